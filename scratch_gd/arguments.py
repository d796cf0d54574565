"""Argument types and checks shared by every subcommand.

Each raises ``argparse.ArgumentTypeError`` with a message naming what is wrong and what is
allowed; argparse prefixes it with the flag's name, so the user sees a single clear line.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path


def one_line(message: str) -> str:
    """``message`` with control characters escaped (a pasted newline shows as ``\\n``), so an
    error stays the one line it is meant to be, whatever the user typed."""
    return "".join(
        character if character.isprintable() else character.encode("unicode_escape").decode()
        for character in message
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 or more")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} must be a finite number above 0")
    return value


def int_list(text: str) -> list[int]:
    """'1000,1,128' -> [1000, 1, 128]; 'all' stands for the full data set."""
    values = []
    for item in text.split(","):
        item = item.strip()
        if item.lower() in ("all", "full"):
            values.append(-1)
            continue
        try:
            values.append(positive_int(item))
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(
                f"{text!r}: each batch size must be a whole number >= 1 or 'all' ({error})"
            ) from None
    return values


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


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text.strip()} must be a finite number >= 0")
    return value


def fraction(text: str) -> float:
    """A share of the data: 0 <= F < 1 (0 = none held out; 1 would leave nothing to train on)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} must be a fraction with 0 <= F < 1, e.g. 0.2"
        )
    return value


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
    ``scratch_gd.datasets.dataset_from_args``."""
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
