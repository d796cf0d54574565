"""Property-based tests: random bytes, tables and argument lists thrown at every entry point.

Each input either works or gets the module's own clean error (DataError, CheckpointError,
SystemExit(2) with one line); nothing else, no traceback from deep inside NumPy, ever escapes.
"""

import argparse
import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scratch_gd.cli import main as cli
from scratch_gd.reference.mlp import MLP
from scratch_gd.store.checkpoint import CheckpointError
from scratch_gd.store.datasets import DataError, Dataset, DataWarning, load_dataset

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load_bytes(content: bytes, target: str | int, validation: float) -> Dataset | DataError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(content)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            try:
                return load_dataset(path, target, validation=validation, dtype="float32")
            except DataError as error:
                return error


def check_outcome(outcome: Dataset | DataError) -> None:
    if isinstance(outcome, DataError):
        message = str(outcome)
        assert message and len(message.splitlines()) == 1, message
        assert "fuzz.csv" in message or "validation" in message, message
        return
    assert isinstance(outcome, Dataset)
    for array in (outcome.x_train, outcome.y_train, outcome.x_val, outcome.y_val):
        if array is not None:
            assert array.ndim == 2 and array.dtype == np.float32
            assert np.all(np.isfinite(array)), "a loaded data set must never hold NaN or inf"
    assert outcome.n_train >= 2 and outcome.y_train.shape == (outcome.n_train, 1)


@FUZZ
@given(
    content=st.binary(max_size=400),
    target=st.sampled_from(["y", "0", "-1", 1]),
    validation=st.sampled_from([0.0, 0.2, 0.5]),
)
@example(content=b"a,y\n1,2\n3,4\n", target="y", validation=0.0)
@example(content=b"\xef\xbb\xbfa,y\r\n1,2\r\n", target="y", validation=0.0)
@example(content=b'a,y\n1,"2\n', target="y", validation=0.0)
@example(content=b"a,y\n1e308,1\n-1e308,2\n", target="y", validation=0.0)
def test_random_bytes_give_a_dataset_or_a_data_error(content, target, validation):
    check_outcome(load_bytes(content, target, validation))


# Tables that look like CSV, mostly well-formed, so the fuzzing gets past the header and
# reaches the cell, split and standardisation checks too.
GOOD_CELLS = st.one_of(
    st.floats(-1e6, 1e6).map(repr),
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # up to 1.8e308
)
BAD_CELLS = st.one_of(
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e999", "x", '"3"', '"', "1,5", "0x10"]),
    st.text(max_size=5),
)


@st.composite
def csv_tables(draw) -> str:
    if draw(st.booleans()):
        header = draw(st.permutations(["a", "b", "y"]))
    else:
        header = draw(st.lists(st.sampled_from(["a", "b", "y", "", "1", " z "]), max_size=4))
    if draw(st.booleans()):
        header = draw(st.permutations(["a", "b", "y"]))
    cells = (
        st.one_of(GOOD_CELLS, GOOD_CELLS, GOOD_CELLS, BAD_CELLS)
        if draw(st.booleans())
        else GOOD_CELLS
    )
    width = len(header)
    ragged = draw(st.sampled_from([False, False, False, True]))
    row = (
        st.lists(cells, max_size=width + 1)
        if ragged
        else st.lists(cells, min_size=width, max_size=width)
    )
    rows = draw(st.lists(row, min_size=draw(st.sampled_from([0, 2, 2, 2])), max_size=8))
    if draw(st.booleans()):  # sometimes a constant column
        column = draw(st.integers(0, max(0, width - 1)))
        rows = [[*row[:column], "7", *row[column + 1 :]] for row in rows]
    separator = draw(st.sampled_from([",", ",", ",", ";", ", "]))
    return "\n".join(separator.join(row) for row in [header, *rows]) + "\n"


@FUZZ
@given(table=csv_tables(), validation=st.sampled_from([0.0, 0.25]))
def test_random_tables_give_a_dataset_or_a_data_error(table, validation):
    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate cannot be written
        content = table.encode("utf-8")
        check_outcome(load_bytes(content, "y", validation))


# --- Checkpoints: a valid file with random damage ----------------------------------------------

VALID_CHECKPOINT: bytes = b""


def valid_checkpoint() -> bytes:
    global VALID_CHECKPOINT
    if not VALID_CHECKPOINT:
        with tempfile.TemporaryDirectory() as folder:
            path = MLP([2, 3, 1], seed=1).save(Path(folder) / "model.npz")
            VALID_CHECKPOINT = path.read_bytes()
    return VALID_CHECKPOINT


@FUZZ
@given(
    edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), max_size=4),
    keep=st.floats(0, 1),
)
def test_damaged_checkpoints_load_or_give_a_checkpoint_error(edits, keep):
    data = bytearray(valid_checkpoint())
    for where, replacement in edits:
        start = int(where * (len(data) - 1))
        data[start : start + len(replacement)] = replacement
    data = data[: max(1, int(len(data) * keep))] if keep < 0.999 else data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.npz"
        path.write_bytes(bytes(data))
        try:
            model = MLP.load(path)
        except CheckpointError as error:
            assert len(str(error).splitlines()) == 1
            return
    assert model.sizes == [2, 3, 1]  # only reachable when the damage missed what matters
    assert all(np.all(np.isfinite(p.data)) for p in model.parameters())


# --- The command-line parser -----------------------------------------------------------------

PARSER, SUBPARSERS = cli.build_parser()


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [flag for action in parser._actions for flag in action.option_strings]


FLAGS = sorted({flag for sub in SUBPARSERS.values() for flag in option_strings(sub)})
VALUES = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["all", "full", "0", "-0", "1e-4", "nan", "-inf", "1,0", "0,-1", ",", "", "-"]),
    st.sampled_from(["lesson", "modern", "diabetes", "float16", "epoch", "--", "-x", "=", "a=b"]),
    st.lists(st.floats(-2, 2).map(lambda v: f"{v:g}"), min_size=1, max_size=4).map(",".join),
    st.text(max_size=12),
)
TOKENS = st.one_of(st.sampled_from(FLAGS), VALUES, st.sampled_from(FLAGS).map(lambda f: f + "="))


def parse(argv: list[str]) -> tuple[argparse.Namespace | None, int | None, str, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            return PARSER.parse_args(cli.join_negative_values(argv)), None, "", ""
        except SystemExit as exit_info:
            return None, exit_info.code, out.getvalue(), err.getvalue()


def check_parse(argv: list[str]) -> None:
    args, code, out, err = parse(argv)
    if args is not None:
        assert args.command in SUBPARSERS
        return
    asks_for_help = any(t.startswith("-") and not t.startswith("--") and "h" in t for t in argv)
    asks_for_help |= any(t.startswith("--h") for t in argv)
    if code == 0:  # only --help (or an abbreviation of it) exits successfully
        assert asks_for_help and "usage:" in out, argv
        return
    assert code == 2, (argv, code, err)
    assert len(err.strip().splitlines()) == 1 and ": error: " in err, err
    assert "Traceback" not in err


@FUZZ
@given(command=st.sampled_from(sorted(SUBPARSERS)), tokens=st.lists(TOKENS, max_size=8))
def test_random_argument_lists_parse_or_exit_2_with_one_line(command, tokens):
    check_parse([command, *tokens])


@FUZZ
@given(tokens=st.lists(st.one_of(st.text(max_size=10), TOKENS), max_size=5))
def test_random_commands_parse_or_exit_2_with_one_line(tokens):
    check_parse(tokens)


def test_the_fuzzing_reaches_every_subcommand_and_flag():
    # Guards the test above: an empty flag list would make it vacuous.
    assert "compare" in SUBPARSERS and "--steps" in FLAGS and "--out" in FLAGS
