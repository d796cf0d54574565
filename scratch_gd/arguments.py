"""Argument types and checks shared by every subcommand.

Each raises ``argparse.ArgumentTypeError`` with a message naming what is wrong and what is
allowed; argparse prefixes it with the flag's name, so the user sees a single clear line.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


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
        raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
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
    """Create the output folder, or stop with a one-line error if it cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"argument --out: cannot create folder {str(folder)!r} ({error.strerror})")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        parser.error(f"argument --out: folder {str(folder)!r} is not writable; choose another")
    return folder
