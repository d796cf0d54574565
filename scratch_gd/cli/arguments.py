"""Argument types, flags and checks shared by the subcommands.

Each type raises ``argparse.ArgumentTypeError`` with a message naming what is wrong and what
is allowed; argparse prefixes it with the flag's name, so the user sees a single clear line.
Checks that need more than one flag, or the data, stop with ``parser.error`` the same way.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ..store.datasets import DataError, Dataset, load_dataset
from ..store.text import one_line

T = TypeVar("T")

__all__ = ["one_line"]  # re-exported: commands import it from here


# --- Single values ---------------------------------------------------------------------------


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


def positive_int(text: str) -> int:
    value = _as_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    value = _as_int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def positive_float(text: str) -> float:
    value = _as_float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} must be a finite number above 0")
    return value


def non_negative_float(text: str) -> float:
    value = _as_float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} must be a finite number >= 0")
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
    values = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: {item!r} is not a number") from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"{text!r}: each momentum must be finite and >= 0")
        values.append(value)
    return values


# --- The output folder -----------------------------------------------------------------------


def prepare_output(folder: Path, parser: argparse.ArgumentParser) -> Path:
    """Create the output folder, or stop with a one-line error if it cannot be written.

    Checked before any training, so a long run never ends unable to save its results.
    """
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
        help="CSV only: the column to predict, by header name or 0-based index (-1 = last)",
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
        type=non_negative_int,
        default=0,
        help="seed for data, initial weights and batches",
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
    parser.add_argument("--out", type=Path, default=Path("plots"), help=out_help)
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
