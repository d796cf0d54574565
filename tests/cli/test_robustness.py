"""Bad input gets one clear line and exit code 2, never a traceback: one test per bad input.

The shared argument helpers first (every subcommand uses them), then the command line.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from scratch_gd.cli import exit_codes
from scratch_gd.cli.arguments import add_sgd_arguments, sgd_options
from scratch_gd.cli.main import CleanParser, build_parser, main
from scratch_gd.reference.data import lesson_data
from scratch_gd.reference.loss import MSELoss
from scratch_gd.reference.mlp import MLP
from scratch_gd.reference.parameter import Parameter
from scratch_gd.reference.sgd import SGD
from scratch_gd.run.train import ENGINES, train
from scratch_gd.store.record import read_history_csv

# --- add_sgd_arguments / sgd_options ---------------------------------------------------------


def sgd_parser() -> CleanParser:
    parser = CleanParser(prog="scratch_gd test")
    add_sgd_arguments(parser)
    return parser


def test_sgd_flags_default_to_plain_sgd_and_feed_the_optimiser():
    parser = sgd_parser()
    options = sgd_options(parser.parse_args([]), parser, [0.9, 0.0])
    assert options == dict(dampening=0.0, weight_decay=0.0, nesterov=False)
    weight = Parameter(np.ones((2, 2), dtype=np.float32))
    optimiser = SGD([weight], lr=0.1, momentum=0.9, **options)
    assert optimiser.nesterov is False and optimiser.dampening == 0.0


def test_sgd_flags_are_read_as_given():
    parser = sgd_parser()
    args = parser.parse_args(["--nesterov", "--weight-decay", "1e-4"])
    options = sgd_options(args, parser, [0.9, 0.5])
    assert options == dict(dampening=0.0, weight_decay=1e-4, nesterov=True)
    args = parser.parse_args(["--dampening", "0.5"])
    assert sgd_options(args, parser, [0.0])["dampening"] == 0.5


@pytest.mark.parametrize(
    ("flags", "momenta", "words"),
    [
        (["--nesterov", "--dampening", "0.1"], [0.9], ["--nesterov", "--dampening 0", "0.1"]),
        (["--nesterov"], [0.9, 0.0, 0.9], ["--nesterov", "momentum above 0", "0.9,0,0.9"]),
        (["--dampening", "-0.1"], [0.9], ["--dampening", ">= 0"]),
        (["--dampening", "inf"], [0.9], ["--dampening", "finite"]),
        (["--weight-decay", "lots"], [0.9], ["--weight-decay", "not a number"]),
        (["--weight-decay", "nan"], [0.9], ["--weight-decay", "finite"]),
    ],
)
def test_bad_sgd_flags_stop_with_one_line_and_exit_code_2(flags, momenta, words, capsys):
    parser = sgd_parser()
    with pytest.raises(SystemExit) as exit_info:
        sgd_options(parser.parse_args(flags), parser, momenta)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err, err


# --- API validation: MSELoss and MLP refuse what would silently compute nonsense ----------------


@pytest.mark.parametrize(
    ("out", "target", "words"),
    [
        (np.zeros((5, 1)), np.zeros(5), ["same shape", "(5, 1)", "(5,)", "reshape(-1, 1)"]),
        (np.zeros((5, 1)), np.zeros((4, 1)), ["5 outputs but 4 targets"]),
        (np.zeros((5, 1)), np.zeros(4), ["5 outputs but 4 targets"]),
        (np.zeros((5, 2)), np.zeros((5, 1)), ["same shape", "(5, 2)"]),
        (np.zeros((5, 1)), np.zeros((5, 1), np.float32), ["same dtype", "float64", "float32"]),
        (np.zeros((5, 1), int), np.zeros((5, 1), int), ["floating-point", "int64"]),
        (np.zeros((0, 1)), np.zeros((0, 1)), ["empty batch"]),
    ],
)
def test_mse_loss_refuses_mismatches(out, target, words):
    with pytest.raises(ValueError) as error:
        MSELoss()(out, target)
    for word in words:
        assert word in str(error.value), str(error.value)


def test_mse_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before the loss was computed"):
        MSELoss().backward()


@pytest.mark.parametrize(
    ("x", "words"),
    [
        (np.zeros((4, 2), np.float32), ["(N, 3)", "(4, 2)"]),
        (np.zeros(3, np.float32), ["(N, 3)", "(3,)", "reshape"]),
        (np.zeros((1, 4, 3), np.float32), ["(N, 3)"]),
        (np.array([["a", "b", "c"]]), ["real numbers", "<U1"]),
        (np.zeros((2, 3), complex), ["real numbers", "complex128"]),
    ],
)
def test_mlp_refuses_input_it_cannot_use(x, words):
    with pytest.raises(ValueError) as error:
        MLP([3, 4, 1])(x)
    for word in words:
        assert word in str(error.value), str(error.value)


@pytest.mark.parametrize(
    ("sizes", "kwargs", "words"),
    [
        ([1], {}, ["at least an input and an output"]),
        ([1, 0, 1], {}, [">= 1"]),
        ([1, 2.5, 1], {}, ["whole numbers"]),
        ([1, 4, 1], dict(dtype="float16"), ["float32 or float64"]),
        ([1, 4, 1], dict(backend="cuda"), ["unknown backend 'cuda'"]),
    ],
)
def test_mlp_refuses_a_bad_architecture(sizes, kwargs, words):
    with pytest.raises(ValueError) as error:
        MLP(sizes, **kwargs)
    for word in words:
        assert word in str(error.value), str(error.value)


def test_mlp_accepts_integer_input_and_casts_it():
    model = MLP([2, 3, 1], dtype="float64")
    np.testing.assert_array_equal(model(np.ones((2, 2), int)), model(np.ones((2, 2))))


# --- The command line: one test per bad input ---------------------------------------------------
# In-process through cli.main (the code path the process runs), plus a few real processes
# below to show that what reaches the terminal is one line and never a traceback.


def assert_usage_error(argv: list[str], words: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == exit_codes.USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and ": error: " in err, err
    for word in words:
        assert word in err, err
    return err


COMPARE_BAD_FLAGS = [
    (["--steps", "ten"], ["--steps", "'ten'", "not a whole number"]),
    (["--steps", "0"], ["--steps", "at least 1"]),
    (["--steps", "-5"], ["--steps", "-5", "at least 1"]),
    (["--steps", "2.5"], ["--steps", "'2.5'", "not a whole number"]),
    (["--lr", "0"], ["--lr", "above 0"]),
    (["--lr", "-1e-3"], ["--lr", "above 0"]),
    (["--lr", "nan"], ["--lr", "finite"]),
    (["--lr", "inf"], ["--lr", "finite"]),
    (["--lr", "fast"], ["--lr", "'fast'", "not a number"]),
    (["--batch-sizes", "0,1"], ["--batch-sizes", ">= 1"]),
    (["--batch-sizes", "a,b"], ["--batch-sizes", "'a'"]),
    (["--batch-sizes", "5000"], ["--batch-sizes", "5000", "larger than", "1000", "'all'"]),
    (["--n", "50", "--batch-sizes", "64,1"], ["--batch-sizes", "64", "(50 samples)", "'all'"]),
    (["--momenta", "-0.5,0,0"], ["--momenta", ">= 0"]),
    (["--momenta", "nan,0,0"], ["--momenta", "finite"]),
    (["--momenta", "0,0"], ["--momenta", "2 momenta", "3 batch sizes"]),
    (["--batch-sizes", "all,1", "--momenta", "0,0,0"], ["--momenta", "3 momenta", "2 batch"]),
    (["--nesterov", "--dampening", "0.5", "--momenta", "0.9,0.9,0.9"],
     ["--nesterov", "--dampening 0", "0.5"]),
    (["--nesterov"], ["--nesterov", "momentum above 0"]),  # the lesson's SGD regime has 0
    (["--weight-decay", "-1"], ["--weight-decay", ">= 0"]),
    (["--dampening", "nan"], ["--dampening", "finite"]),
    (["--preset", "fancy"], ["--preset", "invalid choice", "'fancy'", "lesson"]),
    (["--dtype", "float16"], ["--dtype", "invalid choice"]),
    (["--sampling", "random"], ["--sampling", "invalid choice"]),
    (["--seed", "-1"], ["--seed", "0 or more"]),
    (["--n", "0"], ["--n", "at least 1"]),
    (["--validation", "1"], ["--validation", "0 <= F < 1"]),
    (["--validation", "-0.1"], ["--validation", "0 <= F < 1"]),
    (["--target", "y"], ["--target", "lesson", "drop --target"]),
    (["--data", "diabetes", "--n", "100"], ["--n", "drop --n"]),
    (["--data", "no_such.csv", "--target", "y"], ["--data", "no_such.csv", "no such file"]),
    (["--steps", "10", "--no-such-flag"], ["unrecognized arguments", "--no-such-flag"]),
    (["--lr", "1e-3\nrm -rf"], ["--lr", "\\n"]),  # a pasted newline stays on one line
]  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "words"), COMPARE_BAD_FLAGS, ids=[" ".join(f) for f, _ in COMPARE_BAD_FLAGS]
)
def test_compare_refuses_a_bad_flag(tmp_path, flags, words, capsys):
    assert_usage_error(
        ["compare", "--no-progress", "--out", str(tmp_path / "out"), *flags], words, capsys
    )


def test_an_unknown_subcommand_lists_the_real_ones(capsys):
    assert_usage_error(["comparre"], ["invalid choice", "'comparre'", "'compare'"], capsys)


def test_no_subcommand_says_one_is_required(capsys):
    assert_usage_error([], ["required", "COMMAND"], capsys)


def test_a_bad_csv_names_file_row_and_column(tmp_path, capsys):
    path = tmp_path / "houses.csv"
    path.write_text("area,price\n50,100\n70,cheap\n90,300\n")
    words = ["--data", "houses.csv", "row 3", "'price'", "'cheap'", "not a number"]
    assert_usage_error(["compare", "--data", str(path), "--target", "price"], words, capsys)


def test_a_csv_without_a_target_asks_for_one(tmp_path, capsys):
    path = tmp_path / "houses.csv"
    path.write_text("area,price\n50,100\n70,200\n90,300\n")
    assert_usage_error(["compare", "--data", str(path)], ["--data", "--target"], capsys)


def test_diabetes_without_scikit_learn_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    argv = ["compare", "--data", "diabetes", "--out", str(tmp_path)]
    assert_usage_error(argv, ["--data", "pip install scikit-learn"], capsys)


def test_an_output_folder_under_a_file_cannot_be_created(tmp_path, capsys):
    (tmp_path / "report.txt").write_text("not a folder")
    argv = ["compare", "--out", str(tmp_path / "report.txt" / "plots")]
    assert_usage_error(argv, ["--out", "cannot create folder", "Not a directory"], capsys)


def test_an_output_path_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "plots").write_text("a file named like the folder")
    argv = ["compare", "--out", str(tmp_path / "plots")]
    assert_usage_error(argv, ["--out", "is a file, not a folder"], capsys)
    assert (tmp_path / "plots").read_text() == "a file named like the folder"


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder that exists but refuses new files. chmod does not stop root, so as root use
    sysfs, which refuses file creation to everyone."""
    candidates = []
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        candidates.append(locked)
    candidates.append(Path("/sys"))
    for folder in candidates:
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError:
            return folder
    raise AssertionError(f"found no unwritable folder among {candidates}")


def test_an_output_folder_that_cannot_be_written_is_refused_before_training(tmp_path, capsys):
    folder = unwritable_folder(tmp_path)
    assert_usage_error(
        ["compare", "--out", str(folder)], ["--out", "cannot write in folder"], capsys
    )


def test_gradcheck_refuses_bad_flags(capsys):
    assert_usage_error(["gradcheck", "--sizes", "1"], ["--sizes", "at least an input"], capsys)
    assert_usage_error(["gradcheck", "--eps", "0"], ["--eps", "above 0"], capsys)


def test_warnings_during_a_command_are_one_line(monkeypatch, capsys):
    from scratch_gd.cli.commands import compare

    def warn_and_succeed(args, parser):
        warnings.warn("data.csv: constant column(s) 'same'\ncarry no information", stacklevel=1)
        return exit_codes.OK

    monkeypatch.setattr(compare, "run", warn_and_succeed)
    assert main(["compare"]) == exit_codes.OK
    err = capsys.readouterr().err
    assert (
        err == "scratch_gd: warning: data.csv: constant column(s) 'same'\\ncarry no information\n"
    )


def test_ctrl_c_outside_training_is_one_line_and_exit_code_130(monkeypatch, capsys):
    from scratch_gd.cli.commands import compare

    def interrupted(args, parser):
        raise KeyboardInterrupt  # e.g. while loading data or drawing

    monkeypatch.setattr(compare, "run", interrupted)
    assert main(["compare"]) == exit_codes.INTERRUPTED
    err = capsys.readouterr().err.strip()
    assert err == "scratch_gd compare: interrupted (Ctrl-C)"


# --- The same, as a real process: exit status 2, one line on stderr, no traceback ---------------


def run_cli(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scratch_gd", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def assert_process_usage_error(result: subprocess.CompletedProcess, words: list[str]) -> None:
    assert result.returncode == exit_codes.USAGE, result.stderr
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert result.stdout == ""  # nothing ran
    for word in words:
        assert word in err, err


def test_process_unknown_subcommand():
    assert_process_usage_error(run_cli(["train"]), ["invalid choice", "'train'"])


def test_process_bad_csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"x,y\n1,2\n3,\xff\n")
    result = run_cli(["compare", "--data", str(path), "--target", "y", "--out", str(tmp_path)])
    assert_process_usage_error(result, ["row 3", "not UTF-8"])


def test_process_diabetes_without_scikit_learn(tmp_path):
    # A stand-in package that fails to import, first on the path: what a machine without
    # scikit-learn would show.
    fake = tmp_path / "no_sklearn" / "sklearn"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named sklearn')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    result = run_cli(["compare", "--data", "diabetes", "--out", str(tmp_path / "o")], env=env)
    assert_process_usage_error(result, ["--data", "pip install scikit-learn"])


# --- Divergence: stop at the step, say so on one line, keep the history, still draw ---------------


def test_compare_with_a_huge_lr_reports_divergence_and_still_draws(tmp_path, capsys):
    argv = ["compare", "--lr", "1e3", "--steps", "50", "--n", "100", "--batch-sizes", "all,1",
            "--momenta", "0.9,0", "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == exit_codes.DIVERGED
    err_lines = capsys.readouterr().err.strip().splitlines()
    diverged = [line for line in err_lines if "diverged" in line]
    assert len(diverged) == 2, err_lines  # one line per regime
    for line, regime in zip(diverged, ["Batch", "Stochastic"], strict=True):
        assert line.startswith(regime), line
        assert re.search(r"at step \d+", line), line
        assert re.search(r"last finite loss [-+.\deinf]+", line), line
        assert "smaller --lr" in line, line
    record = json.loads((tmp_path / "compare.json").read_text())
    histories = read_history_csv(tmp_path / "compare_history.csv")
    for name, values in histories.items():
        assert np.all(np.isfinite(values["loss"])), name  # only the finite steps are kept
        assert record["results"][name]["diverged_at"] == len(values["loss"])
    figures = list(tmp_path.glob("*.png"))
    assert len(figures) >= 4
    for figure in figures:
        assert imread(figure).shape[0] > 100


@pytest.mark.parametrize("engine", ["layers", "compiled"])
def test_training_stops_at_the_first_non_finite_loss(engine):
    x, y = lesson_data(64, seed=0)
    model = MLP([1, 8, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=50.0, momentum=0.9)
    history = train(model, optimizer, x, y, batch_size=64, steps=500, engine=engine, progress=False)
    assert history.engine == engine
    assert history.diverged_at is not None and history.diverged_at == history.steps
    assert 0 < history.steps < 500 and np.all(np.isfinite(history.loss))


@pytest.mark.parametrize("engine", ["layers", "compiled"])
def test_training_stops_when_a_parameter_overflows_though_the_loss_was_finite(engine):
    # lr 1e38 in float32: the first loss is an ordinary number, but lr * gradient overflows.
    x, y = lesson_data(64, seed=0)
    model = MLP([1, 8, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=1e38)
    history = train(model, optimizer, x, y, batch_size=64, steps=20, engine=engine, progress=False)
    assert history.diverged_at == 0 and history.steps == 0
    assert history.info["not_finite"] == "parameters"


# --- Reproducibility: the same command and seed, bit-identical histories -------------------------


def test_the_same_compare_command_twice_gives_identical_histories(tmp_path, capsys, monkeypatch):
    from scratch_gd.lab import race

    monkeypatch.setattr(race, "write_compare_figures", lambda *args, **kwargs: [])  # speed
    histories = []
    for run in ("first", "second"):
        argv = ["compare", "--steps", "60", "--n", "200", "--batch-sizes", "all,1,16",
                "--momenta", "0.9,0,0.9", "--lr", "1e-3", "--seed", "3",
                "--out", str(tmp_path / run), "--no-progress"]  # fmt: skip
        assert main(argv) == exit_codes.OK
        histories.append(read_history_csv(tmp_path / run / "compare_history.csv"))
        record = json.loads((tmp_path / run / "compare.json").read_text())
        assert record["seed"] == 3 and "numpy" in record["versions"]
    capsys.readouterr()
    first, second = histories
    assert list(first) == list(second) and len(first) == 3
    for name in first:
        np.testing.assert_array_equal(first[name]["loss"], second[name]["loss"])
        np.testing.assert_array_equal(first[name]["samples_seen"], second[name]["samples_seen"])


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "auto"])  # "auto" picks one
@pytest.mark.parametrize("sampling", ["lesson", "epoch"])
def test_every_engine_is_bit_reproducible_and_the_seed_matters(engine, sampling):
    x, y = lesson_data(100, seed=1)

    def run(seed):
        model = MLP([1, 16, 16, 1], seed=seed)
        optimizer = SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
        history = train(model, optimizer, x, y, batch_size=8, steps=150, seed=seed,
                        sampling=sampling, engine=engine, progress=False)  # fmt: skip
        assert history.engine == engine and history.steps == 150
        return history.loss, [p.data.copy() for p in model.parameters()]

    loss, parameters = run(seed=7)
    again_loss, again_parameters = run(seed=7)
    np.testing.assert_array_equal(again_loss, loss)
    for kept, again in zip(parameters, again_parameters, strict=True):
        np.testing.assert_array_equal(again, kept)
    other_loss, _ = run(seed=8)
    assert not np.array_equal(other_loss, loss)


# --- Every subcommand shares the data and SGD flags, and their checks --------------------------

SUBPARSERS = build_parser()[1]


def flags_of(name: str) -> set[str]:
    return {flag for action in SUBPARSERS[name]._actions for flag in action.option_strings}


def with_out(name: str, tmp_path: Path) -> list[str]:
    return ["--out", str(tmp_path / "out")] if "--out" in flags_of(name) else []


@pytest.mark.parametrize("name", sorted(n for n in SUBPARSERS if "--data" in flags_of(n)))
def test_every_command_with_data_flags_refuses_a_missing_file(name, tmp_path, capsys):
    argv = [name, "--data", "no_such.csv", "--target", "y", *with_out(name, tmp_path)]
    assert_usage_error(argv, ["--data", "no_such.csv", "no such file"], capsys)


@pytest.mark.parametrize("name", sorted(n for n in SUBPARSERS if "--nesterov" in flags_of(n)))
def test_every_command_with_sgd_flags_refuses_nesterov_with_dampening(name, tmp_path, capsys):
    argv = [name, "--nesterov", "--dampening", "0.5", *with_out(name, tmp_path)]
    assert_usage_error(argv, ["--nesterov"], capsys)


def test_the_shared_flags_are_wired_into_compare_at_least():
    # Guards the two tests above against silently testing nothing.
    assert "--data" in flags_of("compare") and "--nesterov" in flags_of("compare")


@pytest.mark.parametrize(
    "command", ["compare", "sweep-batch", "noise", "momentum", "lr-grid"], ids=str
)
def test_a_usage_error_creates_no_output_folder(command, tmp_path):
    out = tmp_path / "never"
    size_flag = "--batch-size" if command in ("momentum", "lr-grid") else "--batch-sizes"
    argv = [sys.executable, "-m", "scratch_gd", command, size_flag, "5000", "--out", str(out)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert "larger than the training data" in result.stderr
    assert not out.exists()
