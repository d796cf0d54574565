"""``trace``: one forward and one backward pass, every shape, cache and gradient written out.

Runs ``scratch_gd.lab.trace`` on the reference MLP in float64 and prints it; each gradient
comes with its relative error against central finite differences. Writes nothing.
"""

from __future__ import annotations

import argparse
import itertools

from ...lab.trace import trace_pass, trace_text
from .. import exit_codes
from ..arguments import layer_sizes, non_negative_int, positive_int

NAME = "trace"
HELP = "print one forward and one backward pass of the MLP on lesson samples, as on paper"
LESSON_SAMPLES = 1000
MAX_WORK = 1e10  # multiply-adds of the finite differences: about a minute here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        type=layer_sizes,
        default=[1, 32, 32, 1],
        help="layer widths, input first; the lesson's data has 1 input and 1 target "
        "(default 1,32,32,1, the lesson's network)",
    )
    parser.add_argument(
        "--batch",
        type=positive_int,
        default=4,
        help=f"lesson samples in the batch, at most {LESSON_SAMPLES} (default 4)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed for the initial weights and for which samples are drawn (default 0)",
    )


def finite_difference_work(sizes: list[int], batch: int) -> float:
    """About how many multiply-adds the finite differences of a trace take: two loss
    evaluations per parameter and per entry of every layer's input, each a forward pass of
    about ``batch * parameters`` multiply-adds."""
    parameters = sum(a * b + b for a, b in itertools.pairwise(sizes))
    entries = batch * (sizes[0] + 2 * sum(sizes[1:-1]) + sizes[-1])
    return 2.0 * (parameters + entries) * batch * parameters


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    sizes = args.sizes
    if sizes[0] != 1 or sizes[-1] != 1:
        parser.error(
            f"argument --sizes: the lesson's data has one input and one target, so the widths "
            f"must start and end with 1, got {','.join(map(str, sizes))}; e.g. 1,32,32,1"
        )
    if args.batch > LESSON_SAMPLES:
        parser.error(
            f"argument --batch: the lesson has {LESSON_SAMPLES} samples, got {args.batch}; "
            f"use at most {LESSON_SAMPLES}"
        )
    work = finite_difference_work(sizes, args.batch)
    if work > MAX_WORK:
        parser.error(
            f"argument --sizes: checking every gradient of this network on {args.batch} "
            f"samples would take ~{work:.0e} multiply-adds; trace is for small networks: "
            "use narrower or fewer layers, or a smaller --batch"
        )
    print(trace_text(trace_pass(sizes, args.batch, args.seed)))
    return exit_codes.OK
