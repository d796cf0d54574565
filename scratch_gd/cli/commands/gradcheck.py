"""``gradcheck``: backprop against central finite differences, tensor by tensor.

Builds an MLP and a random batch, runs ``scratch_gd.gradcheck.gradcheck`` (the function the
tests use), prints a table and a verdict, and exits 0 when the worst relative error is below
the tolerance, 1 when it is not. It writes nothing unless given ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import time
from pathlib import Path

import numpy as np

from ...lab import bugs
from ...reference.backend import BACKENDS
from ...reference.gradcheck import (
    DEFAULT_EPS,
    DEFAULT_TOLERANCE,
    AllSamplesSkipped,
    GradcheckReport,
    gradcheck,
)
from ...reference.mlp import MLP
from ...store.record import csv_text, number
from .. import exit_codes
from ..arguments import (
    layer_sizes,
    non_negative_float,
    positive_float,
    positive_int,
    prepare_output,
    seed,
)
from ..finish import finish

NAME = "gradcheck"
HELP = "check every gradient of backprop against central finite differences"

# The check costs two forward passes per parameter and input entry; past this many
# multiply-adds (about a minute here) it is the wrong tool, so say so instead of hanging.
MAX_WORK = 1e10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        type=layer_sizes,
        default=[1, 32, 32, 1],
        help="layer widths, input first (default 1,32,32,1, the lesson's network)",
    )
    parser.add_argument(
        "--dtype",
        choices=sorted(DEFAULT_EPS),
        default="float64",
        help="float64 (default) to check the maths; float32 to see what its rounding does",
    )
    parser.add_argument(
        "--batch", type=positive_int, default=16, help="random samples to check on (default 16)"
    )
    parser.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="seed for the weights and the batch (any size: see compare --help)",
    )
    defaults = ", ".join(f"{DEFAULT_EPS[d]:g} for {d}" for d in sorted(DEFAULT_EPS))
    parser.add_argument(
        "--eps", type=positive_float, help=f"finite-difference step (default {defaults})"
    )
    tolerances = ", ".join(f"{DEFAULT_TOLERANCE[d]:g} for {d}" for d in sorted(DEFAULT_TOLERANCE))
    parser.add_argument(
        "--tolerance",
        type=positive_float,
        help=f"largest relative error that passes (default {tolerances}; see docs/debugging.md)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="numba",
        help="numba: the hand-written kernels (default); numpy: the reference matmuls",
    )
    parser.add_argument(
        "--kink-margin",
        type=non_negative_float,
        metavar="M",
        help="instead of watching every nudge for a ReLU flipping, skip the samples with a "
        "pre-activation within M of 0; 0 skips none, to see what kinks do (default: none "
        "skipped, every nudge watched)",
    )
    parser.add_argument(
        "--out", type=Path, help="folder for gradcheck.csv and gradcheck.json (default: none)"
    )
    parser.add_argument(
        "--bug",
        choices=["list", *bugs.BUGS],
        metavar="NAME",
        help="slip a classic backprop mistake into the reference code for this run, to see "
        "the check catch it; 'list' names them (see docs/debugging.md; default: none)",
    )


def report_table(report: GradcheckReport) -> str:
    """The report as the aligned table the command prints, one row per tensor."""
    header = (
        f"{'tensor':<10} {'shape':<10} {'|grad|':>9} {'rel. error':>11} "
        f"{'max abs err':>12}  worst at"
    )
    lines = [header, "-" * len(header)]
    for row in report.rows:
        lines.append(
            f"{row.name:<10} {row.shape!s:<10} {row.grad_norm:>9.2e} "
            f"{row.relative_error:>11.2e} {row.max_abs_error:>12.2e}  {row.worst_at}"
        )
    lines.append(
        f"worst {report.worst:.2e}; {report.samples_used} samples used, "
        f"{report.samples_skipped} skipped near a ReLU kink"
    )
    return "\n".join(lines)


def report_csv(report: GradcheckReport) -> str:
    header = ["tensor", "shape", "grad_norm", "relative_error", "max_abs_error", "worst_at"]
    rows = [
        [
            row.name,
            "x".join(str(size) for size in row.shape),
            number(row.grad_norm),
            number(row.relative_error),
            number(row.max_abs_error),
            "x".join(str(index) for index in row.worst_at),
        ]
        for row in report.rows
    ]
    return csv_text(header, rows)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.bug == "list":
        print(bugs.bug_list())
        return exit_codes.OK
    bug = bugs.BUGS.get(args.bug)
    if bug is not None and (reason := bug.cannot_show(args.sizes, args.batch)):
        parser.error(f"argument --bug: {bug.name} cannot show here: {reason}; use the defaults")
    eps = DEFAULT_EPS[args.dtype] if args.eps is None else args.eps
    tolerance = DEFAULT_TOLERANCE[args.dtype] if args.tolerance is None else args.tolerance
    sizes = args.sizes
    parameters = sum(fan_out * (fan_in + 1) for fan_in, fan_out in itertools.pairwise(sizes))
    evaluations = 2 * (parameters + args.batch * sizes[0])
    work = evaluations * args.batch * parameters
    if work > MAX_WORK:
        parser.error(
            f"argument --sizes: {parameters:,} parameters on a batch of {args.batch} would take "
            f"{evaluations:,} forward passes (~{work:.0e} multiply-adds); gradcheck is for "
            "small networks: use narrower or fewer layers, or a smaller --batch"
        )
    out = prepare_output(args.out, parser) if args.out is not None else None

    model = MLP(sizes, dtype=args.dtype, seed=args.seed, backend=args.backend)
    # The batch has its own generator, so changing --batch leaves the weights alone.
    rng = np.random.default_rng([args.seed, 1])
    x = rng.standard_normal((args.batch, sizes[0]))
    y = rng.standard_normal((args.batch, sizes[-1]))
    architecture = "-".join(str(size) for size in sizes)
    print(
        f"gradcheck: MLP {architecture} ({args.backend}), {args.dtype}, {args.batch} standard "
        f"normal samples (seed {args.seed}), eps {eps:g}, tolerance {tolerance:g}"
    )
    print(
        f"{parameters:,} parameters and {args.batch * sizes[0]:,} input entries, each nudged "
        f"up and down: {evaluations:,} forward passes (backprop takes one forward, one backward)"
    )
    if bug is not None:
        print(f"bug slipped in: {bug.name}: {bug.explanation}")
    started = time.perf_counter()
    try:
        with bugs.injected(bug) if bug is not None else contextlib.nullcontext():
            report = gradcheck(model, x, y, eps=eps, kink_margin=args.kink_margin)
    except AllSamplesSkipped as error:
        flag = "--eps" if args.kink_margin is None else "--kink-margin"
        parser.error(f"argument {flag}: {error} (--batch)")
    except ValueError as error:  # eps too small to move a number of this dtype
        parser.error(f"argument --eps: {error}")
    seconds = time.perf_counter() - started

    print(report_table(report))
    worst = report.worst_row
    if report.passed(tolerance):
        print(
            f"PASS: worst relative error {worst.relative_error:.2e} ({worst.name}) < tolerance "
            f"{tolerance:g}: backprop agrees with finite differences"
        )
        if bug is not None:
            print(f"note: {bug.name} changed no gradient on this batch; try the defaults")
        code = exit_codes.OK
    else:
        print(
            f"FAIL: worst relative error {worst.relative_error:.2e} ({worst.name}) >= tolerance "
            f"{tolerance:g}: backprop disagrees with finite differences on "
            + ", ".join(row.name for row in report.rows if row.relative_error >= tolerance)
        )
        if bug is not None:
            print(f"expected for {bug.name}: {bug.expect}")
        if args.dtype == "float32" and report.eps < 1e-4:
            print(
                f"hint: in float32 an eps of {report.eps:g} is only a few rounding steps wide, "
                "so rounding alone can exceed the tolerance; use the float32 default --eps 1e-3, "
                "and confirm with --dtype float64 before hunting a bug"
            )
        elif args.dtype == "float32":
            print(
                "hint: float32 rounding alone can exceed the tolerance when gradients are small "
                "(deep networks); confirm with --dtype float64 before hunting a bug"
            )
        code = exit_codes.CHECK_FAILED

    if out is not None:
        config = dict(
            sizes=sizes,
            dtype=args.dtype,
            batch=args.batch,
            eps=eps,
            tolerance=tolerance,
            backend=args.backend,
            kink_margin=args.kink_margin,
            bug=args.bug,
            data="standard normal x and y from numpy default_rng([seed, 1])",
        )
        results = dict(
            passed=code == exit_codes.OK,
            worst_relative_error=report.worst,
            worst_tensor=worst.name,
            loss=report.loss,
            samples_used=report.samples_used,
            samples_skipped=report.samples_skipped,
            rows=report.rows,
        )
        print(f"checked in {seconds:.2f} s")
        code = finish(
            out,
            NAME,
            config,
            seed=args.seed,
            timings={"check": seconds},
            results=results,
            tables={"gradcheck.csv": report_csv(report)},
            code=code,
        )
    return code
