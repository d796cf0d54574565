"""``compare``: race the three regimes of the lesson and draw the figures."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .. import exit_codes
from ..arguments import (
    int_list,
    momentum_list,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output,
)
from ..compare import RegimeConfig, run_regime, summary_table
from ..data import lesson_data
from ..sampling import MODES

NAME = "compare"
HELP = "race full-batch GD, stochastic GD and mini-batch SGD (the lesson's experiment)"

# Named settings. "lesson" is the lesson's own; "modern" is what one would pick today:
# momentum 0.9 (velocity fades, effective step lr / (1 - 0.9) = 10 lr) with a larger lr.
PRESETS: dict[str, dict[str, object]] = {
    "lesson": dict(lr=1e-4, batch_sizes=[1000, 1, 128], momenta=[1.0, 0.0, 1.0], steps=1000),
    "modern": dict(lr=1e-3, batch_sizes=[1000, 1, 128], momenta=[0.9, 0.9, 0.9], steps=1000),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="lesson",
        help="named settings; flags given explicitly override it",
    )
    parser.add_argument("--steps", type=positive_int, help="optimiser steps per regime")
    parser.add_argument("--lr", type=positive_float, help="learning rate")
    parser.add_argument(
        "--batch-sizes",
        type=int_list,
        help="comma-separated batch sizes, one regime each ('all' = full batch)",
    )
    parser.add_argument(
        "--momenta", type=momentum_list, help="comma-separated momenta, one per batch size"
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed for data, initial weights and batches",
    )
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument(
        "--sampling",
        choices=list(MODES),
        default="lesson",
        help="lesson: fresh shuffle each step; epoch: walk shuffled epochs",
    )
    parser.add_argument("--n", type=positive_int, default=1000, help="number of data points")
    parser.add_argument("--out", type=Path, default=Path("plots"), help="folder for figures")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def resolve_compare(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> list[RegimeConfig]:
    """Merge preset and flags, then check what single flags cannot check on their own."""
    preset = PRESETS[args.preset]
    args.steps = args.steps or preset["steps"]
    args.lr = args.lr or preset["lr"]
    batch_sizes = args.batch_sizes or preset["batch_sizes"]
    momenta = args.momenta or preset["momenta"]
    batch_sizes = [args.n if size == -1 else size for size in batch_sizes]
    for size in batch_sizes:
        if size > args.n:
            parser.error(
                f"argument --batch-sizes: batch size {size} is larger than the data "
                f"({args.n} samples); use {args.n} or 'all' for full-batch gradient descent"
            )
    if len(batch_sizes) != len(momenta):
        given = "--momenta" if args.momenta else f"preset {args.preset!r}"
        parser.error(
            f"argument --momenta: {len(momenta)} momenta (from {given}) for "
            f"{len(batch_sizes)} batch sizes; give one momentum per batch size with --momenta"
        )
    return [RegimeConfig(b, m, args.lr) for b, m in zip(batch_sizes, momenta, strict=True)]


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..plots import write_compare_figures  # matplotlib only loads when figures are made

    configs = resolve_compare(args, parser)
    out = prepare_output(args.out, parser)
    dtype = np.dtype(args.dtype)
    x, y = lesson_data(args.n, seed=args.seed, dtype=dtype)
    print(
        f"{args.steps} steps per regime, lr {args.lr:g}, {args.sampling} sampling "
        f"(lesson: a fresh shuffle and its first batch every step), {dtype.name}, seed {args.seed}"
    )
    if any(config.momentum >= 1 for config in configs):
        print("note: momentum >= 1 never lets the velocity decay; expect long oscillations")
    results = []
    started = time.perf_counter()
    for config in configs:
        result = run_regime(
            config,
            x,
            y,
            sizes=[1, 32, 32, 1],
            steps=args.steps,
            seed=args.seed,
            dtype=dtype,
            sampling=args.sampling,
            progress=not args.no_progress,
        )
        results.append(result)
        if result.history.interrupted:
            print(
                f"{result.name}: interrupted at step {result.history.steps}; "
                "writing what was computed",
                file=sys.stderr,
            )
            break
    print(summary_table(results))
    paths = write_compare_figures(results, x, y, out)
    print(f"trained in {time.perf_counter() - started:.2f} s; wrote {len(paths)} figures to {out}/")
    code = exit_codes.OK
    for result in results:
        history = result.history
        if history.diverged_at is not None:
            last = f"{history.loss[-1]:.4g}" if history.steps else "none"
            print(
                f"{result.name} diverged at step {history.diverged_at + 1} (last finite loss "
                f"{last}); try a smaller --lr",
                file=sys.stderr,
            )
            code = exit_codes.DIVERGED
    if any(result.history.interrupted for result in results):
        code = exit_codes.INTERRUPTED
    return code
