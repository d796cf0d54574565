"""``lr-grid``: final loss over a learning-rate by momentum grid, as a heatmap."""

from __future__ import annotations

import argparse
import sys
import time

from ...lab import lr_grid
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
    learning_rate_list,
    listed,
    momentum_list,
    positive_int,
    prepare_output,
    sgd_options,
)
from ..finish import finish

NAME = "lr-grid"
DEFAULT_BATCH = 32
HELP = "final loss over a learning-rate x momentum grid: a heatmap with divergent cells marked"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lrs",
        type=learning_rate_list,
        default=list(lr_grid.DEFAULT_LRS),
        help=f"comma-separated learning rates (default {listed(lr_grid.DEFAULT_LRS)})",
    )
    parser.add_argument(
        "--momenta",
        type=momentum_list,
        default=list(lr_grid.DEFAULT_MOMENTA),
        help=f"comma-separated momenta (default {listed(lr_grid.DEFAULT_MOMENTA)})",
    )
    parser.add_argument(
        "--batch-size",
        type=batch_size,
        help=f"samples per step, or 'all' (default {DEFAULT_BATCH}, or all the data if fewer)",
    )
    parser.add_argument(
        "--steps", type=positive_int, default=1000, help="steps per cell (default 1000)"
    )
    add_run_arguments(parser, default_engine="compiled")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    started = time.perf_counter()
    momenta = sorted(set(args.momenta))
    options = sgd_options(args, parser, momenta)
    dataset = dataset_from_args(args, parser)  # afterwards args.n is the training size
    if args.batch_size is None:
        batch = min(DEFAULT_BATCH, args.n)  # the default shrinks to the data
    else:
        batch = fit_batch_size(args.batch_size, args.n, parser)
    sizes = [dataset.n_features, *args.hidden, 1]
    check_memory(
        parser, sizes=sizes, n=args.n, batch=batch, steps=args.steps, runs=1, dtype=args.dtype
    )
    # Checks first: a usage error must not leave an empty output folder behind.
    out = prepare_output(args.out, parser)
    print(engine_line(args))
    print(dataset.description)
    print(
        f"{len(args.lrs)} learning rates x {len(momenta)} momenta, {args.steps} steps of batch "
        f"{batch} each, from the same initial weights and batches; {args.dtype}, seed {args.seed}"
    )
    try:
        result = lr_grid.lr_momentum_grid(
            args.lrs,
            momenta,
            dataset.x_train,
            dataset.y_train,
            batch_size=batch,
            steps=args.steps,
            progress=not args.no_progress,
            sizes=sizes,
            seed=args.seed,
            dtype=args.dtype,
            sgd_options=options,
            x_val=dataset.x_val,
            y_val=dataset.y_val,
            engine=args.engine,
            backend=args.backend,
        )
    except KeyboardInterrupt:
        print("lr-grid: interrupted; nothing written", file=sys.stderr)
        return exit_codes.INTERRUPTED
    trained = time.perf_counter() - started
    print(lr_grid.grid_table(result))
    diverged = sum(cell.diverged for cell in result.cells)
    if diverged:
        print(f"{diverged} of {len(result.cells)} cells diverged (marked 'diverged' and hatched)")
    best = result.best
    config = {
        **engine_config(args),
        "data": data_config(dataset),
        "sizes": sizes,
        "dtype": args.dtype,
        "lrs": args.lrs,
        "momenta": momenta,
        "batch_size": batch,
        "steps": args.steps,
        "sgd_options": options,
    }
    results = {
        "cells": result.cells,
        "best": None
        if best is None
        else {"lr": best.lr, "momentum": best.momentum, "final_loss": best.final_loss},
        "diverged_cells": diverged,
    }
    return finish(
        out,
        "lr_grid",
        config,
        seed=args.seed,
        timings={"train": trained, "total": time.perf_counter() - started},
        results=results,
        tables={"lr_grid.csv": table_csv(result)},
        figures=lambda: [
            lr_grid.lr_grid_figure(result, out / "lr_grid.png", subtitle=dataset.description)
        ],
    )


def table_csv(result: lr_grid.GridResult) -> str:
    """One row per cell."""
    rows: list[list] = []
    header = [
        "lr",
        "momentum",
        "effective_step",
        "steps",
        "final_loss",
        "validation_loss",
        "diverged_at",
        "stuck",
        "best",
    ]
    best = result.best
    for cell in result.cells:
        effective = number(cell.effective_step)  # "inf" at momentum 1
        rows.append(
            [
                number(cell.lr),
                number(cell.momentum),
                effective,
                cell.steps,
                number(cell.final_loss),  # a diverged cell may still end finite
                "" if cell.validation_loss is None else number(cell.validation_loss),
                "" if cell.diverged_at is None else cell.diverged_at,
                int(cell.stuck),
                int(cell is best),
            ]
        )
    return csv_text(header, rows)
