"""``momentum``: momentum 0 to 1 on the same problem, and why 1 never settles."""

from __future__ import annotations

import argparse
import sys
import time

from ...lab import momentum, phase
from ...store.datasets import data_config
from ...store.record import csv_text, number
from .. import exit_codes
from ..arguments import (
    add_run_arguments,
    batch_size,
    check_memory,
    dataset_from_args,
    engine_config,
    engine_line,
    fit_batch_size,
    listed,
    momentum_list,
    positive_float,
    positive_int,
    prepare_output,
    sgd_options,
)
from ..finish import finish

NAME = "momentum"
HELP = "train with momentum 0, 0.5, 0.9, 0.99 and 1 on the same problem; see why 1 never settles"
EVALUATIONS = 200  # full-data loss and velocity measurements per run, by default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--momenta",
        type=momentum_list,
        default=list(momentum.DEFAULT_MOMENTA),
        help=f"comma-separated momenta, one run each (default {listed(momentum.DEFAULT_MOMENTA)})",
    )
    parser.add_argument(
        "--lr", type=positive_float, default=1e-3, help="learning rate of every run (default 1e-3)"
    )
    parser.add_argument(
        "--batch-size",
        type=batch_size,
        default=-1,
        help="samples per step, or 'all' (default all: full batches, so no sampling noise "
        "blurs what momentum does)",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=2000, help="steps per run (default 2000)"
    )
    parser.add_argument(
        "--eval-every",
        type=positive_int,
        help="steps between full-data loss measurements; the velocity is measured after every "
        f"step (default steps / {EVALUATIONS})",
    )
    add_run_arguments(parser, progress_help="hide the progress bars")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    started = time.perf_counter()
    if args.eval_every is not None and args.eval_every > args.steps:
        parser.error(
            f"argument --eval-every: {args.eval_every} is more than the {args.steps} steps of a "
            f"run; give at most {args.steps}"
        )
    options = sgd_options(args, parser, args.momenta)
    dataset = dataset_from_args(args, parser)  # afterwards args.n is the training size
    batch = fit_batch_size(args.batch_size, args.n, parser)
    eval_every = args.eval_every or max(1, args.steps // EVALUATIONS)
    sizes = [dataset.n_features, *args.hidden, 1]
    check_memory(
        parser,
        sizes=sizes,
        n=args.n,
        batch=batch,
        steps=args.steps,
        runs=len(args.momenta),
        dtype=args.dtype,
    )
    # Checks first: a usage error must not leave an empty output folder behind.
    out = prepare_output(args.out, parser)
    print(engine_line(args))
    print(dataset.description)
    print(
        f"{args.steps} steps of batch {batch} at lr {args.lr:g} for each momentum "
        f"{', '.join(f'{m:g}' for m in args.momenta)}; the same initial weights and batches "
        f"for all; {args.dtype}, seed {args.seed}"
    )
    runs = []
    try:
        for value in args.momenta:
            run_result = momentum.run_momentum(
                value,
                dataset.x_train,
                dataset.y_train,
                sizes=sizes,
                lr=args.lr,
                batch_size=batch,
                steps=args.steps,
                eval_every=eval_every,
                seed=args.seed,
                dtype=args.dtype,
                sgd_options=options,
                x_val=dataset.x_val,
                y_val=dataset.y_val,
                progress=not args.no_progress,
                engine=args.engine,
                backend=args.backend,
            )
            if run_result.history.interrupted:
                raise KeyboardInterrupt
            runs.append(run_result)
    except KeyboardInterrupt:
        # A stop keeps the momenta that finished: they are what was computed.
        if not runs:
            print("momentum: interrupted before any run finished; nothing written", file=sys.stderr)
            return exit_codes.INTERRUPTED
        print(
            f"momentum: interrupted; writing the {len(runs)} run(s) that finished",
            file=sys.stderr,
        )
    trained = time.perf_counter() - started
    print(momentum.momentum_table(runs))
    print(momentum.effective_step_note(args.lr, [r.momentum for r in runs]))
    subtitle = f"{dataset.description}; lr {args.lr:g}, batch {batch}, {args.steps} steps"
    config = {
        **engine_config(args),
        "data": data_config(dataset),
        "sizes": sizes,
        "dtype": args.dtype,
        "momenta": args.momenta,
        "lr": args.lr,
        "batch_size": batch,
        "steps": args.steps,
        "eval_every": eval_every,
        "sgd_options": options,
    }
    results = {
        f"momentum {run_result.momentum:g}": {
            "momentum": run_result.momentum,
            "effective_step": run_result.effective_step,  # inf is recorded as null
            "final_loss": float(run_result.full_loss[-1]),
            "best_loss": float(run_result.full_loss.min()),
            "last_quarter_rises": run_result.rises,
            "velocity_end_over_peak": run_result.velocity_ratio,
            "settled": run_result.settled,
            "diverged_at": run_result.history.diverged_at,
        }
        for run_result in runs
    }
    code = exit_codes.OK
    for run_result in runs:
        if run_result.history.diverged_at is not None:
            print(
                f"momentum {run_result.momentum:g} diverged at step "
                f"{run_result.history.diverged_at + 1}; try a smaller --lr or momentum",
                file=sys.stderr,
            )
            code = exit_codes.DIVERGED
    if len(runs) < len(args.momenta):
        code = exit_codes.INTERRUPTED
    return finish(
        out,
        "momentum",
        config,
        seed=args.seed,
        timings={"train": trained, "total": time.perf_counter() - started},
        histories={f"momentum {r.momentum:g}": r.history for r in runs},
        results=results,
        tables={"momentum.csv": table_csv(runs)},
        figures=lambda: [
            momentum.momentum_figure(runs, out / "momentum.png", subtitle=subtitle),
            # The same idea on a 1-D bowl, where it is exact: spirals at sqrt(m) (lab/phase.py).
            phase.phase_figure(out / "momentum_phase.png"),
        ],
        code=code,
    )


def table_csv(runs: list[momentum.MomentumRun]) -> str:
    """One row per momentum: the table's numbers."""
    rows: list[list] = []
    header = [
        "momentum",
        "lr",
        "effective_step",
        "final_loss",
        "best_loss",
        "final_validation_loss",
        "last_quarter_rises",
        "velocity_end_over_peak",
        "settled",
        "diverged_at",
    ]
    for r in runs:
        effective = number(r.effective_step)  # "inf" at momentum 1
        validation = number(r.validation_loss[-1]) if r.validation_loss is not None else ""
        diverged = "" if r.history.diverged_at is None else r.history.diverged_at
        rows.append(
            [
                number(r.momentum),
                number(r.lr),
                effective,
                number(r.full_loss[-1]),
                number(r.full_loss.min()),
                validation,
                number(r.rises),
                number(r.velocity_ratio),
                int(r.settled),
                diverged,
            ]
        )
    return csv_text(header, rows)
