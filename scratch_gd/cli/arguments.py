"""Argument types, flags and checks shared by the subcommands.

Each type raises ``argparse.ArgumentTypeError`` with a message naming what is wrong and what
is allowed; argparse prefixes it with the flag's name, so the user sees a single clear line.
Checks that need more than one flag, or the data, stop with ``parser.error`` the same way.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..reference.checks import memory_bytes
from ..store.datasets import DataError, Dataset, is_number, load_dataset
from ..store.files import remove_stale_temporaries
from ..store.text import one_line

T = TypeVar("T")

__all__ = ["one_line"]  # re-exported: commands import it from here


# --- Single values ---------------------------------------------------------------------------


# Counts (steps, samples, widths, seeds, draws) stop here: far beyond any lesson, and small
# enough that every count fits the 64-bit integers NumPy and Numba index with. Whether the
# arrays a count asks for fit in memory is checked separately (``check_memory``).
MAX_COUNT = 2**31 - 1
# Rates and penalties stop at float32's largest number: beyond it a float32 run would turn
# them into infinity (and NumPy would print overflow warnings instead of one line of ours).
MAX_FLOAT = float(np.finfo(np.float32).max)
SEED_RANGE = 2**32  # seeds below this are used as given; see ``seed`` for larger ones


def _as_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _as_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _at_most_max_count(value: int) -> int:
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{value} is too large; the most allowed is {MAX_COUNT:,}")
    return value


def positive_int(text: str) -> int:
    value = _as_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return _at_most_max_count(value)


def non_negative_int(text: str) -> int:
    value = _as_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return _at_most_max_count(value)


def seed(text: str) -> int:
    """A seed: any whole number >= 0, a nanosecond timestamp included.

    Seeds below 2**32 are used as given. A larger one is folded into that range by
    ``numpy.random.SeedSequence(seed)`` (its first 32-bit word): the same seed always gives
    the same run, and different large seeds almost surely different runs.
    """
    value = _as_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    if value < SEED_RANGE:
        return value
    return int(np.random.SeedSequence(value).generate_state(1, np.uint32)[0])


def _finite_at_most_max(text: str, value: float, rule: str) -> float:
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text.strip()} must be {rule}")
    if value > MAX_FLOAT:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} is beyond float32's largest number ({MAX_FLOAT:.3g}); give a "
            "smaller one"
        )
    return value


def positive_float(text: str) -> float:
    value = _as_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} must be a finite number above 0")
    return _finite_at_most_max(text, value, "a finite number above 0")


def non_negative_float(text: str) -> float:
    value = _as_float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} must be a finite number >= 0")
    return _finite_at_most_max(text, value, "a finite number >= 0")


def momentum(text: str) -> float:
    """A momentum 0 <= m <= 1. Above 1 the velocity grows every step (m^k v) and the
    effective step lr/(1-m) turns negative: that is not momentum, so it is refused."""
    value = _as_float(text)
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} must be a momentum >= 0 and <= 1 (above 1 the velocity grows "
            "without bound), e.g. 0.9"
        )
    return value


def fraction(text: str) -> float:
    """A share of the data: 0 <= F < 1 (0 = none held out; 1 would leave nothing to train on)."""
    value = _as_float(text)
    if not math.isfinite(value) or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} must be a fraction with 0 <= F < 1, e.g. 0.2"
        )
    return value


def batch_size(text: str) -> int:
    """A batch size: a whole number >= 1, or 'all' (returned as -1) for every sample."""
    if text.strip().lower() in ("all", "full"):
        return -1
    return positive_int(text)


# --- Comma-separated lists -------------------------------------------------------------------


def listed(values: Sequence[float]) -> str:
    """(0.0001, 0.5, 1.0) -> '0.0001,0.5,1': a default list as the user would type it."""
    return ",".join(f"{value:g}" for value in values)


def _comma_separated(text: str, parse: Callable[[str], T], rule: str) -> list[T]:
    """``parse`` each item of 'a,b,c'; a bad item stops with the whole list, ``rule`` and
    what was wrong with that item, e.g. "'8,0': each hidden width must be ... (0 must be
    at least 1)"."""
    values = []
    for item in text.split(","):
        try:
            values.append(parse(item.strip()))
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {rule} ({error})") from None
    return values


def int_list(text: str) -> list[int]:
    """'1000,1,128' -> [1000, 1, 128]; 'all' stands for the full data set (-1)."""
    return _comma_separated(
        text, batch_size, "each batch size must be a whole number >= 1 or 'all'"
    )


def width_list(text: str) -> list[int]:
    """'32,32' -> [32, 32]: the widths of the hidden layers."""
    return _comma_separated(text, positive_int, "each hidden width must be a whole number >= 1")


def layer_sizes(text: str) -> list[int]:
    """'1,32,32,1' -> [1, 32, 32, 1]: input width, hidden widths, output width."""
    sizes = _comma_separated(text, positive_int, "each layer width must be a whole number >= 1")
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(
            f"{text!r} needs at least an input and an output width, e.g. 1,32,32,1"
        )
    return sizes


def learning_rate_list(text: str) -> list[float]:
    """'1e-3,1e-2' -> [0.001, 0.01], sorted, each a finite number above 0."""
    rule = "each learning rate must be a finite number above 0"
    return sorted(set(_comma_separated(text, positive_float, rule)))


def momentum_list(text: str) -> list[float]:
    """'0,0.9' -> [0.0, 0.9]: each a momentum from 0 to 1 (see ``momentum``)."""
    values = []
    for item in text.split(","):
        try:
            values.append(momentum(item))
        except argparse.ArgumentTypeError:
            if not is_number(item):
                raise argparse.ArgumentTypeError(
                    f"{text!r}: {item.strip()!r} is not a number"
                ) from None
            raise argparse.ArgumentTypeError(
                f"{text!r}: {item.strip()!r} is not a momentum; each must be a finite number "
                ">= 0 and <= 1 (above 1 the velocity grows without bound)"
            ) from None
    return values


# --- The output folder -----------------------------------------------------------------------


RUNS = Path("runs")  # git-ignored: runs never rewrite the tracked plots/ folder


def default_output(parser: argparse.ArgumentParser) -> Path:
    """``runs/<command>``: 'scratch_gd lr-grid' writes to runs/lr-grid."""
    return RUNS / parser.prog.split()[-1]


def prepare_output(folder: Path | None, parser: argparse.ArgumentParser) -> Path:
    """Create the output folder, or stop with a one-line error if it cannot be written;
    ``None`` means ``default_output``. Temporary files left there by a killed run are
    removed (``store.files.remove_stale_temporaries``).

    Checked before any training, so a long run never ends unable to save its results.
    """
    folder = default_output(parser) if folder is None else folder
    if folder.exists() and not folder.is_dir():
        parser.error(
            f"argument --out: {str(folder)!r} is a file, not a folder; choose another --out"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(
            f"argument --out: cannot create folder {str(folder)!r} "
            f"({error.strerror or error}); choose another --out"
        )
    # Really write (an unnamed temporary file): permission bits alone miss read-only
    # file systems, and root ignores them.
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        parser.error(
            f"argument --out: cannot write in folder {str(folder)!r} "
            f"({error.strerror or error}); choose another --out"
        )
    for stale in remove_stale_temporaries(folder):
        print(f"note: removed {stale.name}, left in {folder}/ by a run that was killed")
    return folder


# --- SGD options beyond lr and momentum (torch.optim.SGD's other arguments) ----------------


def add_sgd_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--nesterov``, ``--dampening`` and ``--weight-decay``; read them with ``sgd_options``."""
    parser.add_argument(
        "--nesterov",
        action="store_true",
        help="Nesterov momentum: step along the gradient plus momentum times the velocity",
    )
    parser.add_argument(
        "--dampening",
        type=non_negative_float,
        default=0.0,
        help="scale new gradients by (1 - dampening) in the velocity (default 0)",
    )
    parser.add_argument(
        "--weight-decay",
        type=non_negative_float,
        default=0.0,
        help="L2 penalty: add weight_decay * parameter to each gradient (default 0)",
    )


def sgd_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser, momenta: list[float]
) -> dict[str, object]:
    """Keyword arguments for ``SGD(params, lr=..., momentum=..., **options)``.

    Checks what one flag cannot check alone: Nesterov momentum looks ahead along the
    velocity, so it needs a velocity (every momentum > 0) that is not dampened.
    """
    nesterov = bool(args.nesterov)
    dampening = float(args.dampening)
    if nesterov and dampening != 0:
        parser.error(
            f"argument --nesterov: Nesterov momentum needs --dampening 0, got {dampening:g}; "
            "drop --dampening or --nesterov"
        )
    if nesterov and any(momentum == 0 for momentum in momenta):
        listed = ",".join(f"{momentum:g}" for momentum in momenta)
        parser.error(
            f"argument --nesterov: Nesterov momentum needs every momentum above 0, got "
            f"momenta {listed}; give non-zero --momenta or drop --nesterov"
        )
    return dict(dampening=dampening, weight_decay=float(args.weight_decay), nesterov=nesterov)


# --- Which data to train on ------------------------------------------------------------------


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--data``, ``--target``, ``--n`` and ``--validation``; load with
    ``dataset_from_args`` below."""
    parser.add_argument(
        "--data",
        default="lesson",
        metavar="SOURCE",
        help="'lesson' (the lesson's noisy parabola), 'diabetes' (scikit-learn's bundled "
        "set) or the path of a CSV file with a header row (default lesson)",
    )
    parser.add_argument(
        "--target",
        metavar="COLUMN",
        help="CSV only: the column to predict, by header name or 0-based index (-1 = last); "
        "no default, a CSV needs it",
    )
    parser.add_argument(
        "--n",
        type=positive_int,
        default=None,
        help="lesson data only: number of samples (default 1000)",
    )
    parser.add_argument(
        "--validation",
        type=fraction,
        default=None,
        metavar="F",
        help="fraction of the data held out for validation, 0 <= F < 1 "
        "(default 0 for lesson data, 0.2 otherwise)",
    )


# --- The flags every training subcommand shares ----------------------------------------------


def add_run_arguments(
    parser: argparse.ArgumentParser,
    *,
    out_help: str = "folder for results",
    progress_help: str = "hide the progress bar",
    default_engine: str = "layers",
) -> None:
    """Add the flags of every subcommand that trains: the SGD options (``add_sgd_arguments``),
    ``--hidden``, the data (``add_data_arguments``), ``--seed``, ``--dtype``, ``--engine``,
    ``--backend``, ``--out`` and ``--no-progress``. The network they describe is ``[n_features, *args.hidden, 1]``."""
    add_sgd_arguments(parser)
    parser.add_argument(
        "--hidden",
        type=width_list,
        metavar="WIDTHS",
        default=[32, 32],
        help="comma-separated widths of the hidden layers (default 32,32, the lesson's)",
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="seed for data, initial weights and batches: any whole number >= 0; one of "
        "2**32 or more is folded below 2**32 by numpy.random.SeedSequence (default 0)",
    )
    parser.add_argument(
        "--dtype", choices=["float32", "float64"], default="float32", help="(default float32)"
    )
    parser.add_argument(
        "--engine",
        choices=["layers", "compiled"],
        default=default_engine,
        help="layers: the reference loop of scratch_gd/reference, layer by layer; compiled: "
        f"its fused Numba twin, many times faster (default {default_engine})",
    )
    parser.add_argument(
        "--backend",
        choices=["numba", "numpy"],
        default="numba",
        help="who multiplies the layers' matrices: our Numba kernels or NumPy's BLAS "
        "(default numba)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"{out_help} (default {default_output(parser)}, ignored by git)",
    )
    parser.add_argument("--no-progress", action="store_true", help=progress_help)


# --- Batch sizes against the data (checked once the data is loaded: see dataset_from_args) ----


def fit_batch_size(size: int, n: int, parser: argparse.ArgumentParser) -> int:
    """The ``--batch-size`` to train with: 'all' (-1) becomes ``n``, the training size; a
    size larger than the data stops with a usage error."""
    if size > n:
        parser.error(
            f"argument --batch-size: {size} is larger than the training data "
            f"({n} samples); use at most {n}, or 'all'"
        )
    return n if size == -1 else size


def fit_batch_sizes(sizes: list[int], n: int, parser: argparse.ArgumentParser) -> list[int]:
    """The ``--batch-sizes`` to sweep, sorted and each once, 'all' (-1) as ``n``; a size
    larger than the data stops with a usage error."""
    for size in sizes:
        if size > n:
            parser.error(
                f"argument --batch-sizes: batch size {size} is larger than the training data "
                f"({n} samples); use at most {n}, or 'all'"
            )
    return sorted({n if size == -1 else size for size in sizes})


def dataset_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Dataset:
    """``load_dataset`` from the flags of ``arguments.add_data_arguments``.

    A bad source stops with ``parser.error`` (one line, exit 2). Afterwards ``args.n`` holds
    the number of *training* samples, so batch-size checks can compare against it.
    """
    if args.data != "lesson" and args.n is not None:
        parser.error(
            f"argument --n: --n sets the size of the lesson data, but --data is {args.data!r}; "
            "drop --n (a data set has the rows it has)"
        )
    if args.data == "lesson" and args.target is not None:
        parser.error(
            "argument --target: the lesson data has a single input and target; "
            "drop --target or give a CSV file with --data"
        )
    if args.data == "diabetes" and args.target is not None:
        parser.error(
            "argument --target: the diabetes data's target is fixed (disease progression); "
            "drop --target"
        )
    if args.data == "lesson":  # the lesson data is made here: check it fits first
        check_memory(
            parser,
            sizes=[1, *getattr(args, "hidden", [32, 32]), 1],
            n=1000 if args.n is None else args.n,
            batch=0,
            steps=0,
            runs=0,
            dtype=getattr(args, "dtype", "float32"),
        )
    try:
        dataset = load_dataset(
            args.data,
            args.target,
            n=1000 if args.n is None else args.n,
            seed=getattr(args, "seed", 0),
            validation=args.validation,
            dtype=getattr(args, "dtype", "float32"),
        )
    except DataError as error:
        parser.error(f"argument --data: {error}")
    args.n = dataset.n_train
    return dataset


def engine_line(args: argparse.Namespace) -> str:
    """What trains, said in every training command's output and record."""
    loop = (
        "the reference loop (scratch_gd/reference)"
        if args.engine == "layers"
        else "the compiled engine (scratch_gd/engine)"
    )
    return f"engine: {args.engine}, {loop}; matmuls on the {args.backend} backend"


def engine_config(args: argparse.Namespace) -> dict[str, str]:
    return {"engine": args.engine, "backend": args.backend}


# --- --help: every flag says its default -----------------------------------------------------


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help text with each flag's default: the flag's own words when its help names it
    ("(default 32,32, the lesson's)"), else argparse's value, else "off" for a switch."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default is argparse.SUPPRESS:
            return text
        if action.default is False:  # a switch such as --fair
            return f"{text} (default off)"
        if action.default is not None:
            return f"{text} (default %(default)s)"
        return text


# --- Requests that could never fit in memory, refused before any work ------------------------


def check_memory(
    parser: argparse.ArgumentParser,
    *,
    sizes: Sequence[int],
    n: int,
    batch: int,
    steps: int,
    runs: int,
    dtype: str,
    extra: tuple[str, str, int] = ("", "", 0),
) -> None:
    """Stop with one line if the arrays of this request would not fit in this machine.

    A rough sum of what a run holds at once: the data and a full-data evaluation's
    activations (``n`` rows through every layer), the parameters with their gradients and
    velocities, a batch's activations and gradients, and a ``History`` of ``steps`` steps
    (3 numbers of 8 bytes per step) for each of ``runs`` runs kept. ``extra`` adds
    (flag, what, bytes), e.g. noise's sampled batches. The message names the flag that sets
    the biggest part, so the user knows what to lower.
    """
    itemsize = np.dtype(dtype).itemsize
    width = sum(sizes)
    parameters = sum(a * b + b for a, b in itertools.pairwise(sizes))
    # flag to lower -> (what it sets, bytes)
    parts = {
        "--n": ("the data (or the rows of --data) and one pass over it", 2 * n * width * itemsize),
        "--hidden": ("the parameters", 3 * parameters * itemsize),
        "--batch-size": ("one step's activations", 3 * batch * width * itemsize),
        "--steps": ("the loss histories", 24 * steps * runs),
    }
    if extra[1]:
        parts[extra[0]] = (extra[1], extra[2])
    needed, available = sum(size for _, size in parts.values()), memory_bytes()
    if needed > available:
        flag = max(parts, key=lambda name: parts[name][1])
        parser.error(
            f"argument {flag}: this run would need about {needed / 2**30:,.1f} GiB of memory, "
            f"but this machine has {available / 2**30:,.1f} GiB; most of it for "
            f"{parts[flag][0]}: lower {flag}"
        )
