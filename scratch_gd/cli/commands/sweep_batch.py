"""``sweep-batch``: samples and seconds to reach a target loss, for batch sizes 1 to N."""

from __future__ import annotations

import argparse
import sys
import time

from ...lab import sweep_batch
from ...store.datasets import data_config
from ...store.files import atomic_write_text
from ...store.record import csv_text, number, write_run_record
from .. import exit_codes
from ..arguments import (
    add_run_arguments,
    dataset_from_args,
    engine_config,
    engine_line,
    fit_batch_sizes,
    int_list,
    learning_rate_list,
    listed,
    non_negative_float,
    positive_float,
    positive_int,
    prepare_output,
    sgd_options,
)

NAME = "sweep-batch"
HELP = (
    "batch sizes 1..N: samples and seconds to reach a target loss (where big batches stop paying)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-sizes",
        type=int_list,
        help="comma-separated batch sizes ('all' = full batch; default 1,2,4,...,all)",
    )
    parser.add_argument(
        "--lrs",
        type=learning_rate_list,
        default=list(sweep_batch.DEFAULT_LRS),
        help="learning rates each batch size races to the target, the fastest wins "
        f"(default {listed(sweep_batch.DEFAULT_LRS)})",
    )
    parser.add_argument(
        "--momentum",
        type=non_negative_float,
        default=sweep_batch.DEFAULT_MOMENTUM,
        help=f"momentum of every run (default {sweep_batch.DEFAULT_MOMENTUM:g})",
    )
    parser.add_argument(
        "--target-loss",
        type=positive_float,
        help="full-data loss to reach (default: --target-factor x the best loss of full-batch "
        "descent over the lr grid in --reference-steps steps)",
    )
    parser.add_argument(
        "--target-factor",
        type=positive_float,
        help=f"see --target-loss (default {sweep_batch.DEFAULT_TARGET_FACTOR:g})",
    )
    parser.add_argument(
        "--reference-steps",
        type=positive_int,
        help=f"see --target-loss (default {sweep_batch.DEFAULT_REFERENCE_STEPS})",
    )
    parser.add_argument(
        "--max-steps",
        type=positive_int,
        default=sweep_batch.DEFAULT_MAX_STEPS,
        help="give up on a batch size after this many steps "
        f"(default {sweep_batch.DEFAULT_MAX_STEPS})",
    )
    add_run_arguments(parser, default_engine="compiled")


def check_target(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Either an explicit target, or the reference run's settings; not both."""
    if args.target_loss is not None:
        for value, flag in (
            (args.target_factor, "--target-factor"),
            (args.reference_steps, "--reference-steps"),
        ):
            if value is not None:
                parser.error(
                    f"argument {flag}: only used to derive the target when --target-loss is "
                    f"not given; drop {flag} or --target-loss"
                )
    if args.target_factor is not None and args.target_factor < 1:
        parser.error(
            f"argument --target-factor: {args.target_factor:g} would put the target below the "
            "best loss the reference run reached; give a factor of 1 or more, e.g. 1.2"
        )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    started = time.perf_counter()
    check_target(args, parser)
    options = sgd_options(args, parser, [args.momentum])
    dataset = dataset_from_args(args, parser)  # afterwards args.n is the training size
    if args.batch_sizes:
        batch_sizes = fit_batch_sizes(args.batch_sizes, args.n, parser)
    else:
        batch_sizes = sweep_batch.batch_grid(args.n)
    sizes = [dataset.n_features, *args.hidden, 1]
    # Checks first: a usage error must not leave an empty output folder behind.
    out = prepare_output(args.out, parser)
    factor = args.target_factor or sweep_batch.DEFAULT_TARGET_FACTOR
    reference_steps = args.reference_steps or sweep_batch.DEFAULT_REFERENCE_STEPS
    print(engine_line(args))
    print(dataset.description)
    print(
        f"batch sizes {', '.join(map(str, batch_sizes))}; each races learning rates "
        f"{', '.join(f'{lr:g}' for lr in args.lrs)} (momentum {args.momentum:g}) to the "
        f"target, up to {args.max_steps} steps; {args.dtype}, seed {args.seed}"
    )
    if args.momentum >= 1:
        print("note: momentum >= 1 never lets the velocity decay; expect long oscillations")
    try:
        sweep = sweep_batch.sweep_batch_sizes(
            dataset.x_train,
            dataset.y_train,
            sizes=sizes,
            batch_sizes=batch_sizes,
            lrs=args.lrs,
            momentum=args.momentum,
            target_loss=args.target_loss,
            target_factor=factor,
            reference_steps=reference_steps,
            max_steps=args.max_steps,
            seed=args.seed,
            dtype=args.dtype,
            sgd_options=options,
            x_val=dataset.x_val,
            y_val=dataset.y_val,
            progress=not args.no_progress,
            engine=args.engine,
            backend=args.backend,
        )
    except KeyboardInterrupt:
        print("sweep-batch: interrupted; nothing written", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except sweep_batch.NoReference as error:
        print(f"sweep-batch: {error}", file=sys.stderr)
        return exit_codes.DIVERGED
    trained = time.perf_counter() - started
    print(sweep.target_note)
    print(sweep_batch.sweep_table(sweep))
    missed = [r.batch_size for r in sweep.results if not r.reached]
    if missed:
        print(
            f"not reached within {args.max_steps} steps: batch {', '.join(map(str, missed))} "
            "(raise --max-steps, widen --lrs or set an easier --target-loss)"
        )
    at_edge = sorted({r.batch_size for r in sweep.results if r.lr == max(args.lrs)})
    if at_edge and len(args.lrs) > 1:
        print(
            f"note: batch {', '.join(map(str, at_edge))} won with the largest learning rate "
            f"of the grid ({max(args.lrs):g}); a larger one might be faster still (--lrs)"
        )
    table = out / "sweep_batch.csv"
    atomic_write_text(table, table_csv(sweep))
    figure = sweep_batch.sweep_figure(sweep, out / "sweep_batch.png", subtitle=dataset.description)
    config = {
        **engine_config(args),
        "data": data_config(dataset),
        "sizes": sizes,
        "dtype": args.dtype,
        "batch_sizes": batch_sizes,
        "lrs": args.lrs,
        "momentum": args.momentum,
        "target_loss": args.target_loss,
        "target_factor": None if args.target_loss is not None else factor,
        "reference_steps": None if args.target_loss is not None else reference_steps,
        "max_steps": args.max_steps,
        "sgd_options": options,
    }
    results = {
        "target": sweep.target,
        "target_note": sweep.target_note,
        "batch_sizes": [row(r) for r in sweep.results],
    }
    histories = {}
    for r in sweep.results:
        history = sweep_batch.winner_history(r, sweep.target)
        if history is not None:
            histories[f"batch {r.batch_size}"] = history
    paths = write_run_record(
        out,
        "sweep_batch",
        config,
        seed=args.seed,
        timings={"sweep": trained, "total": time.perf_counter() - started},
        histories=histories,
        results=results,
        figures=[figure],
    )
    print(f"wrote {figure.name}, {table.name} and {', '.join(p.name for p in paths)} to {out}/")
    return exit_codes.OK


COLUMNS = [
    "batch_size",
    "reached",
    "lr",
    "steps",
    "samples",
    "seconds",
    "validation_loss",
    "best_loss",
    "budget_steps",
    "diverged_lrs",
]


def row(result: sweep_batch.BatchResult) -> dict:
    return {
        "batch_size": result.batch_size,
        "reached": result.reached,
        "lr": result.lr,
        "steps": result.steps,
        "samples": result.samples,
        "seconds": result.seconds,
        "validation_loss": result.validation_loss,
        "best_loss": result.best_loss,
        "budget_steps": result.budget_steps,
        "diverged_lrs": result.diverged_lrs,
    }


def table_csv(sweep: sweep_batch.SweepResult) -> str:
    """One row per batch size; empty cells where the target was not reached."""
    rows: list[list] = []
    header = [*COLUMNS, "target"]
    for result in sweep.results:
        values = row(result)
        cells = []
        for name in COLUMNS:
            value = values[name]
            if value is None:
                cells.append("")
            elif isinstance(value, bool):
                cells.append(int(value))
            elif isinstance(value, float):
                cells.append(number(value))
            elif isinstance(value, list):
                cells.append(" ".join(f"{v:g}" for v in value))
            else:
                cells.append(value)
        rows.append([*cells, number(sweep.target)])
    return csv_text(header, rows)
