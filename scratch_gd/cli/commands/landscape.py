"""``landscape``: the loss along each regime's way from start to end, and on the plane of its path.

Trains the lesson's three regimes (its batch sizes, momenta and learning rate; the same
start for all), keeping their weights every few steps, then measures the full-data loss
along the straight line from the start to each run's end and on the plane through the
start spanned by the paths' two main directions (``scratch_gd/lab/landscape.py``). Writes
``landscape.png`` and ``landscape.json`` (every number the figure is drawn from).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ...lab import landscape
from ...lab.race import RegimeConfig
from ...store.datasets import data_config, load_dataset
from .. import exit_codes
from ..arguments import (
    engine_config,
    engine_line,
    non_negative_int,
    positive_float,
    positive_int,
    prepare_output,
)
from ..finish import finish
from .compare import PRESETS

NAME = "landscape"
HELP = (
    "the loss along the line from the start to each regime's end, and on the plane of the "
    "paths' two main directions (PCA), with the paths drawn over it"
)
LESSON = PRESETS["lesson"]
SIZES = [1, 32, 32, 1]
MIN_RESOLUTION = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=LESSON["steps"],
        help=f"optimiser steps per regime (default {LESSON['steps']}, the lesson's)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=LESSON["lr"],
        help=f"learning rate of every regime (default {LESSON['lr']:g}, the lesson's)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed for data, initial weights and batches (default 0)",
    )
    parser.add_argument(
        "--resolution",
        type=positive_int,
        default=landscape.RESOLUTION,
        metavar="N",
        help=f"grid points per side of the plane (default {landscape.RESOLUTION}; "
        f"at least {MIN_RESOLUTION}); the loss is measured at N x N weight vectors",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for landscape.png and landscape.json (default runs/landscape, ignored by git)",
    )
    parser.add_argument(
        "--engine",
        choices=["layers", "compiled"],
        default="layers",
        help="layers: the reference loop of scratch_gd/reference; compiled: its fused Numba "
        "twin, faster (default layers)",
    )
    parser.add_argument(
        "--backend",
        choices=["numba", "numpy"],
        default="numba",
        help="who multiplies the layers' matrices in training (default numba)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    started = time.perf_counter()
    if args.resolution < MIN_RESOLUTION:
        parser.error(
            f"argument --resolution: {args.resolution} is too coarse for contours; "
            f"give at least {MIN_RESOLUTION}"
        )
    if args.steps < 2:
        parser.error("argument --steps: a path needs at least 2 steps to have two directions")
    out = prepare_output(args.out, parser)
    print(engine_line(args))
    dataset = load_dataset("lesson", seed=args.seed)
    n = len(dataset.x_train)
    configs = [
        RegimeConfig(n if batch == -1 else batch, momentum, args.lr)
        for batch, momentum in zip(LESSON["batch_sizes"], LESSON["momenta"], strict=True)
    ]
    every = max(1, args.steps // landscape.SAMPLES)
    dtype = np.dtype("float32")
    print(dataset.description)
    print(
        f"the lesson's three regimes, {args.steps} steps each at lr {args.lr:g}, seed "
        f"{args.seed}; weights kept every {every} steps; a {args.resolution} x "
        f"{args.resolution} grid on the plane"
    )
    trajectories = landscape.run_trajectories(
        configs,
        dataset.x_train,
        dataset.y_train,
        sizes=SIZES,
        steps=args.steps,
        seed=args.seed,
        dtype=dtype,
        every=every,
        progress=not args.no_progress,
        engine=args.engine,
        backend=args.backend,
    )
    if len(trajectories) < len(configs) or trajectories[-1].result.history.interrupted:
        print("landscape: interrupted; nothing written", file=sys.stderr)
        return exit_codes.INTERRUPTED
    trained = time.perf_counter() - started
    view = landscape.compute_landscape(
        trajectories,
        dataset.x_train,
        dataset.y_train,
        sizes=SIZES,
        dtype=dtype,
        resolution=args.resolution,
    )
    measured = time.perf_counter() - started - trained
    results = landscape.landscape_results(view, trajectories)
    print(landscape.summary_table(results))
    subtitle = f"{dataset.description}; lr {args.lr:g}, {args.steps} steps, seed {args.seed}"
    config = {
        **engine_config(args),
        "data": data_config(dataset),
        "sizes": SIZES,
        "dtype": dtype.name,
        "steps": args.steps,
        "regimes": [
            {
                "name": t.name,
                "batch_size": t.result.config.batch_size,
                "momentum": t.result.config.momentum,
                "lr": t.result.config.lr,
            }
            for t in trajectories
        ],
        "snapshot_every": every,
        "resolution": args.resolution,
    }
    diverged = [t for t in trajectories if t.result.history.diverged_at is not None]
    for t in diverged:
        print(
            f"{t.name} diverged at step {t.result.history.diverged_at + 1}; its line ends at "
            f"its last finite weights (step {t.steps[-1]}); try a smaller --lr",
            file=sys.stderr,
        )
    return finish(
        out,
        "landscape",
        config,
        seed=args.seed,
        timings={
            "train_seconds": trained,
            "landscape_seconds": measured,
            "total_seconds": time.perf_counter() - started,
        },
        histories={t.name: t.result.history for t in trajectories},
        results=results,
        figures=lambda: [
            landscape.landscape_figure(view, trajectories, out / "landscape.png", subtitle=subtitle)
        ],
        code=exit_codes.DIVERGED if diverged else exit_codes.OK,
    )
