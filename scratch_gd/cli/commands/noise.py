"""``noise``: the variance of the mini-batch gradient against batch size, at fixed weights."""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings

import numpy as np

from ...lab import noise
from ...lab.sweep_batch import batch_grid
from ...reference.mlp import MLP
from ...reference.sgd import SGD
from ...run.history import History
from ...run.train import train
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
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output,
    sgd_options,
)

NAME = "noise"
TRAIN_BATCH = 32
HELP = "measure mini-batch gradient noise against batch size, beside the 1/B prediction"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-sizes",
        type=int_list,
        help="comma-separated batch sizes ('all' = every sample; default 1,2,4,...,all)",
    )
    parser.add_argument(
        "--draws",
        type=positive_int,
        default=1000,
        help="random batches drawn per batch size and way of drawing (default 1000)",
    )
    parser.add_argument(
        "--train-steps",
        type=non_negative_int,
        default=500,
        help="also measure after this many training steps (0 = initial weights only; default 500)",
    )
    parser.add_argument(
        "--train-batch",
        type=positive_int,
        help=f"batch size of those training steps (default {TRAIN_BATCH}, or all if fewer)",
    )
    parser.add_argument(
        "--lr", type=positive_float, default=1e-3, help="their learning rate (default 1e-3)"
    )
    parser.add_argument(
        "--momentum",
        type=non_negative_float,
        default=0.9,
        help="their momentum (default 0.9)",
    )
    add_run_arguments(parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    started = time.perf_counter()
    options = sgd_options(args, parser, [args.momentum])
    dataset = dataset_from_args(args, parser)  # afterwards args.n is the training size
    if args.batch_sizes:
        batch_sizes = fit_batch_sizes(args.batch_sizes, args.n, parser)
    else:
        batch_sizes = batch_grid(args.n)
    if args.train_batch is not None and args.train_batch > args.n:
        parser.error(
            f"argument --train-batch: {args.train_batch} is larger than the training data "
            f"({args.n} samples); use at most {args.n}"
        )
    train_batch = args.train_batch or min(TRAIN_BATCH, args.n)  # a default shrinks to the data
    sizes = [dataset.n_features, *args.hidden, 1]
    n_parameters = sum(a * b + b for a, b in itertools.pairwise(sizes))
    needed = noise.gradient_matrix_bytes(args.n, n_parameters)
    if needed > noise.MAX_GRADIENT_MATRIX_BYTES:
        parser.error(
            f"argument --data: per-sample gradients of {args.n} samples x {n_parameters} "
            f"parameters need {needed / 2**20:.0f} MB (limit "
            f"{noise.MAX_GRADIENT_MATRIX_BYTES / 2**20:.0f} MB); use fewer rows or --hidden"
        )
    x, y = dataset.x_train, dataset.y_train
    # Checks first: a usage error must not leave an empty output folder behind.
    out = prepare_output(args.out, parser)
    print(engine_line(args))
    print(dataset.description)
    print(
        f"gradient noise at fixed weights: {args.draws} batches per batch size, drawn with "
        f"and without replacement; network {'-'.join(map(str, sizes))}, {args.dtype}, "
        f"seed {args.seed}"
    )
    if args.train_steps and args.momentum >= 1:
        print("note: momentum >= 1 never lets the velocity decay; expect long oscillations")
    try:
        results, histories = measure(args, x, y, sizes, batch_sizes, train_batch, options)
    except KeyboardInterrupt:
        print("noise: interrupted; nothing written", file=sys.stderr)
        return exit_codes.INTERRUPTED
    measured = time.perf_counter() - started
    print(noise.noise_table(results))
    table = out / "noise.csv"
    atomic_write_text(table, table_csv(results))
    figure = noise.noise_figure(results, out / "noise.png", subtitle=dataset.description)
    config = {
        **engine_config(args),
        "data": data_config(dataset),
        "sizes": sizes,
        "dtype": args.dtype,
        "batch_sizes": batch_sizes,
        "draws": args.draws,
        "train_steps": args.train_steps,
        "train_batch": train_batch,
        "lr": args.lr,
        "momentum": args.momentum,
        "sgd_options": options,
    }
    record = {
        result.label: {
            "steps_trained": result.steps_trained,
            "n_samples": result.n_samples,
            "n_parameters": result.n_parameters,
            "sigma2": result.sigma2,
            "full_gradient_norm2": result.full_gradient_norm2,
            "noise_scale": result.noise_scale,
            "points": result.points,
        }
        for result in results
    }
    paths = write_run_record(
        out,
        "noise",
        config,
        seed=args.seed,
        timings={"measure": measured, "total": time.perf_counter() - started},
        histories=histories,
        results=record,
        figures=[figure],
    )
    print(f"wrote {figure.name}, {table.name} and {', '.join(p.name for p in paths)} to {out}/")
    return exit_codes.OK


def measure(
    args: argparse.Namespace,
    x: np.ndarray,
    y: np.ndarray,
    sizes: list[int],
    batch_sizes: list[int],
    train_batch: int,
    options: dict,
) -> tuple[list[noise.NoiseAtWeights], dict[str, History]]:
    """The noise at the initial weights, then (with --train-steps) after training."""
    model = MLP(sizes, dtype=args.dtype, seed=args.seed, backend=args.backend)
    results = [
        noise.gradient_noise(
            noise.per_sample_gradients(model, x, y),
            batch_sizes,
            draws=args.draws,
            seed=args.seed,
            label="initial weights",
        )
    ]
    if not args.train_steps:
        return results, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # momentum >= 1 was asked for explicitly
        optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum, **options)
    history = train(
        model,
        optimizer,
        x,
        y,
        batch_size=train_batch,
        steps=args.train_steps,
        seed=args.seed,
        progress=not args.no_progress,
        desc="training",
        engine=args.engine,
    )
    if history.interrupted:
        raise KeyboardInterrupt
    label = f"after {args.train_steps} steps"
    if history.diverged_at is not None:
        print(
            f"training diverged at step {history.diverged_at + 1}; measuring only at the "
            "initial weights (try a smaller --lr)",
            file=sys.stderr,
        )
        return results, {label: history}
    results.append(
        noise.gradient_noise(
            noise.per_sample_gradients(model, x, y),
            batch_sizes,
            draws=args.draws,
            seed=args.seed + 1,
            label=label,
            steps_trained=args.train_steps,
        )
    )
    return results, {label: history}


def table_csv(results: list[noise.NoiseAtWeights]) -> str:
    rows: list[list] = []
    header = [
        "weights",
        "steps_trained",
        "batch_size",
        "replacement",
        "measured",
        "standard_error",
        "predicted",
        "sigma2",
        "full_gradient_norm2",
        "n_samples",
        "draws",
    ]
    for result in results:
        for point in result.points:
            rows.append(
                [
                    result.label,
                    result.steps_trained,
                    point.batch_size,
                    int(point.replacement),
                    number(point.measured),
                    number(point.standard_error),
                    number(point.predicted),
                    number(result.sigma2),
                    number(result.full_gradient_norm2),
                    result.n_samples,
                    point.draws,
                ]
            )
    return csv_text(header, rows)
