"""``compare``: race the three regimes of the lesson and draw the figures.

``compare`` alone is the lesson's experiment: one seed, one learning rate, batch loss per
step (plus the figures that show what that hides). ``compare --fair`` is the fair race of
``scratch_gd/lab/fair.py``: full-data loss with the clock paused, a learning rate swept
for each regime, several seeds. Both record themselves beside their figures
(``scratch_gd/record.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ...lab import fair, race
from ...lab.painter import Painter
from ...lab.race import (
    RegimeConfig,
    RegimeResult,
    regime_name,
    run_regime,
    summary_table,
)
from ...reference.sampling import MODES
from ...store.datasets import Dataset, data_config
from .. import exit_codes
from ..arguments import (
    add_run_arguments,
    check_memory,
    dataset_from_args,
    engine_config,
    engine_line,
    int_list,
    learning_rate_list,
    listed,
    momentum_list,
    positive_float,
    positive_int,
    prepare_output,
    sgd_options,
)
from ..finish import finish, stop_code

NAME = "compare"
HELP = (
    "race full-batch GD, stochastic GD and mini-batch SGD (the lesson's experiment; "
    "--fair for the fair race)"
)

# Named settings. "lesson" is the lesson's own; "modern" is what one would pick today:
# momentum 0.9 (velocity fades, effective step lr / (1 - 0.9) = 10 lr) with a larger lr.
# A batch size of -1 means all the training data.
PRESETS: dict[str, dict[str, object]] = {
    "lesson": dict(lr=1e-4, batch_sizes=[-1, 1, 128], momenta=[1.0, 0.0, 1.0], steps=1000),
    "modern": dict(lr=1e-3, batch_sizes=[-1, 1, 128], momenta=[0.9, 0.9, 0.9], steps=1000),
}
PRESET_NOTES = {
    "lesson": "the lesson's own",
    "modern": "ten times the lesson's lr, and Stochastic gets momentum 0.9 too, which does not "
    "settle at batch 1",
}
# The fair race: every regime gets the same momentum, so momentum is not what differs.
FAIR = dict(batch_sizes=[-1, 1, 128], momentum=fair.FAIR_MOMENTUM, steps=fair.DEFAULT_STEPS)
FAIR_ONLY_FLAGS = {
    "seeds": "--seeds",
    "lrs": "--lrs",
    "eval_every": "--eval-every",
    "sweep_steps": "--sweep-steps",
}
PLAIN_EVALUATIONS = 50  # validation-loss measurements per regime in plain compare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="named settings, flags given explicitly override them (default lesson): "
        + "; ".join(
            f"{name}: {preset_text(preset)} ({PRESET_NOTES[name]})"
            for name, preset in PRESETS.items()
        ),
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        metavar="N",
        help=f"optimiser steps per regime (default {PRESETS['lesson']['steps']}; "
        f"{FAIR['steps']} with --fair)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        help="learning rate (default from the preset: "
        + ", ".join(f"{name} {preset['lr']:g}" for name, preset in PRESETS.items())
        + "; --fair sweeps --lrs instead)",
    )
    parser.add_argument(
        "--batch-sizes",
        type=int_list,
        help="comma-separated batch sizes, one regime each ('all' = full batch; default "
        f"{batch_text(PRESETS['lesson']['batch_sizes'])})",
    )
    parser.add_argument(
        "--momenta",
        type=momentum_list,
        help="comma-separated momenta, one per batch size (default from the preset: "
        + ", ".join(f"{name} {listed(preset['momenta'])}" for name, preset in PRESETS.items())
        + f"; {FAIR['momentum']:g} for every regime with --fair)",
    )
    parser.add_argument(
        "--sampling",
        choices=list(MODES),
        default="lesson",
        help="lesson: fresh shuffle each step; epoch: walk shuffled epochs",
    )
    add_run_arguments(parser, out_help="folder for figures", progress_help="hide the progress bars")
    # --- compare --animate (lab/race_animation.py) ---
    parser.add_argument(
        "--animate",
        action="store_true",
        help="also write compare_fits.gif: each regime's fitted curve, frame by frame",
    )
    race = parser.add_argument_group(
        "fair race",
        "full-data loss with the clock paused, lr swept per regime, several seeds "
        f"(momentum {fair.FAIR_MOMENTUM:g} for every regime unless --momenta says otherwise)",
    )
    race.add_argument("--fair", action="store_true", help="run the fair race")
    race.add_argument(
        "--seeds",
        type=positive_int,
        metavar="N",
        help=f"race seeds: --seed, --seed + 1, ... (default {fair.DEFAULT_SEEDS})",
    )
    race.add_argument(
        "--lrs",
        type=learning_rate_list,
        help="comma-separated candidate learning rates for the sweep "
        f"(default {listed(fair.DEFAULT_LRS)})",
    )
    race.add_argument(
        "--eval-every",
        type=positive_int,
        metavar="K",
        help=f"steps between full-data evaluations (default steps / {fair.EVALUATIONS_PER_RUN})",
    )
    race.add_argument(
        "--sweep-steps",
        type=positive_int,
        metavar="N",
        help="steps of each sweep run (default: as many as the race)",
    )


def batch_text(sizes: list[int]) -> str:
    return ",".join("all" if size == -1 else str(size) for size in sizes)


def preset_text(preset: dict[str, object]) -> str:
    """'lr 0.001, batch sizes all,1,128, momenta 0.9,0.9,0.9, 1000 steps': what it sets."""
    return (
        f"lr {preset['lr']:g}, batch sizes {batch_text(preset['batch_sizes'])}, "
        f"momenta {listed(preset['momenta'])}, {preset['steps']} steps"
    )


def check_mode(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Flags that belong to one mode only are refused in the other, with the way out."""
    if not args.fair:
        for attribute, flag in FAIR_ONLY_FLAGS.items():
            if getattr(args, attribute) is not None:
                parser.error(f"argument {flag}: only used by the fair race; add --fair or drop it")
        return
    if args.lr is not None:
        parser.error(
            "argument --lr: --fair picks each regime's learning rate by a sweep; "
            "give the candidates with --lrs instead"
        )
    if args.preset is not None:
        parser.error(
            f"argument --preset: --fair has its own settings (momentum {fair.FAIR_MOMENTUM:g} "
            "for every regime, lr by sweep); drop --preset"
        )
    steps = args.steps or FAIR["steps"]
    if args.eval_every is not None and args.eval_every > steps:
        parser.error(
            f"argument --eval-every: {args.eval_every} is more than the {steps} steps of a run; "
            f"give at most {steps}"
        )


def resolve_batch_sizes(
    given: list[int] | None, default: list[int], n: int, parser: argparse.ArgumentParser
) -> list[int]:
    """Batch sizes with 'all' (-1) as ``n``. Sizes the user gave must fit the data; a
    default that does not (128 of 50 samples) shrinks to the data."""
    if given:
        for size in given:
            if size > n:
                parser.error(
                    f"argument --batch-sizes: batch size {size} is larger than the training "
                    f"data ({n} samples); use {n} or 'all' for full-batch gradient descent"
                )
        return [n if size == -1 else size for size in given]
    return [n if size == -1 else min(size, n) for size in default]


def resolve_compare(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> list[RegimeConfig]:
    """Merge preset and flags, then check what single flags cannot check on their own."""
    preset = PRESETS[args.preset or "lesson"]
    args.steps = args.steps or preset["steps"]
    args.lr = args.lr or preset["lr"]
    batch_sizes = resolve_batch_sizes(args.batch_sizes, preset["batch_sizes"], args.n, parser)
    momenta = args.momenta or preset["momenta"]
    if len(batch_sizes) != len(momenta):
        given = "--momenta" if args.momenta else f"preset {args.preset or 'lesson'!r}"
        parser.error(
            f"argument --momenta: {len(momenta)} momenta (from {given}) for "
            f"{len(batch_sizes)} batch sizes; give one momentum per batch size with --momenta"
        )
    configs = [RegimeConfig(b, m, args.lr) for b, m in zip(batch_sizes, momenta, strict=True)]
    return _distinct(configs, args.n, lambda config: (config.batch_size, config.momentum))


def resolve_fair(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[tuple]:
    """The (batch size, momentum) of each regime in the fair race."""
    args.steps = args.steps or FAIR["steps"]
    batch_sizes = resolve_batch_sizes(args.batch_sizes, FAIR["batch_sizes"], args.n, parser)
    momenta = args.momenta or [FAIR["momentum"]] * len(batch_sizes)
    if len(batch_sizes) != len(momenta):
        parser.error(
            f"argument --momenta: {len(momenta)} momenta for {len(batch_sizes)} batch sizes; "
            "give one momentum per batch size"
        )
    regimes = list(zip(batch_sizes, momenta, strict=True))
    regimes = _distinct(regimes, args.n, lambda regime: regime)
    names = [regime_name(batch, args.n) for batch, _ in regimes]
    for name in names:
        if names.count(name) > 1:
            parser.error(
                f"argument --batch-sizes: the fair race compares regimes, and {name} appears "
                "twice (with different momenta); give each batch size once"
            )
    return regimes


def _distinct(items: list, n: int, key) -> list:
    """Drop repeats (a default batch of 128 shrunk to a data set of 100 is the full batch)."""
    kept, seen = [], set()
    for item in items:
        if key(item) in seen:
            size = key(item)[0]
            print(f"note: {regime_name(size, n)} (batch {size}) is listed twice; racing it once")
            continue
        seen.add(key(item))
        kept.append(item)
    return kept


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    started = time.perf_counter()
    check_mode(args, parser)
    dataset = dataset_from_args(args, parser)  # afterwards args.n is the training size
    print(engine_line(args))  # before any note about the regimes
    sizes = [dataset.n_features, *args.hidden, 1]
    if args.animate and (args.fair or dataset.n_features != 1):  # --- compare --animate ---
        why = ", not the fair race" if args.fair else f" over one input, not {dataset.n_features}"
        parser.error(f"argument --animate: films the lesson race's curves{why}; drop --animate")
    # Every check comes before the output folder is made: a usage error leaves nothing behind.
    if args.fair:
        regimes = resolve_fair(args, parser)
        options = sgd_options(args, parser, [momentum for _, momentum in regimes])
        seeds = args.seeds or fair.DEFAULT_SEEDS
        check_memory(
            parser,
            sizes=sizes,
            n=args.n,
            batch=max(batch for batch, _ in regimes),
            steps=max(args.steps, args.sweep_steps or 0),
            runs=len(regimes) * (seeds + 1),
            dtype=args.dtype,
            extra=("--seeds", "the list of seeds", 64 * seeds),
        )
        out = prepare_output(args.out, parser)
        return run_fair_race(args, dataset, regimes, sizes, options, out, started)
    configs = resolve_compare(args, parser)
    options = sgd_options(args, parser, [config.momentum for config in configs])
    check_memory(
        parser,
        sizes=sizes,
        n=args.n,
        batch=max(config.batch_size for config in configs),
        steps=args.steps,
        runs=len(configs),
        dtype=args.dtype,
    )
    out = prepare_output(args.out, parser)
    # The figures' workers start now and load matplotlib on the other core while this
    # process trains; this process never loads it (lab/painter.py).
    with Painter() as painter:
        return run_lesson_race(args, dataset, configs, sizes, options, out, started, painter)


# --- The lesson's race ---------------------------------------------------------------------


def run_lesson_race(
    args: argparse.Namespace,
    dataset: Dataset,
    configs: list[RegimeConfig],
    sizes: list[int],
    options: dict,
    out: Path,
    started: float,
    painter: Painter,
) -> int:
    from ...lab import race_animation  # --- compare --animate ---

    dtype = np.dtype(args.dtype)
    # Validation loss is measured along the way only when there is held-out data.
    eval_every = max(1, args.steps // PLAIN_EVALUATIONS) if dataset.n_val else None
    # --- compare --animate: film each run at its evaluations (lab/race_animation.py) ---
    film = race_animation.Film(dataset) if args.animate else None
    eval_every = film.every(args.steps) if film else eval_every
    print(dataset.description)
    print(
        f"{args.steps} steps per regime, lr {args.lr:g}, {args.sampling} sampling "
        f"(lesson: a fresh shuffle and its first batch every step), {dtype.name}, seed {args.seed}"
    )
    if any(config.momentum >= 1 for config in configs):
        print("note: momentum >= 1 never lets the velocity decay; expect long oscillations")
    results: list[RegimeResult] = []
    stopped = False  # by Ctrl-C outside a regime's training loop
    for config in configs:
        try:
            result = run_regime(
                config,
                dataset.x_train,
                dataset.y_train,
                sizes=sizes,
                steps=args.steps,
                seed=args.seed,
                dtype=dtype,
                sampling=args.sampling,
                progress=not args.no_progress,
                sgd_options=options,
                x_val=dataset.x_val,
                y_val=dataset.y_val,
                eval_every=eval_every,
                engine=args.engine,
                backend=args.backend,
                watch=film.take() if film else None,  # --- compare --animate ---
            )
        except KeyboardInterrupt:  # outside training's own loop (it keeps its steps itself)
            print(
                f"{config.name(args.n)}: interrupted outside its training steps; "
                f"writing the {len(results)} regime(s) that finished",
                file=sys.stderr,
            )
            stopped = True
            break
        results.append(result)
        if config is not configs[-1]:  # drawn while the next regime trains
            painter.start(race.lesson_figures(results, dataset)[-1:])
        if result.history.interrupted:
            print(
                f"{result.name}: interrupted at step {result.history.steps}; "
                "writing what was computed",
                file=sys.stderr,
            )
            break
    if not results:
        print("compare: interrupted before any regime finished; nothing written", file=sys.stderr)
        return stop_code()
    trained = time.perf_counter() - started
    # Every regime is done: the comparisons (longest first) are drawn while the records
    # are written, and ``finish`` collects them.
    jobs = race.compare_figures(results, dataset)
    painter.start(jobs)
    print(summary_table(results))
    if dataset.name != "lesson":
        print(
            "note: the lesson-style figures (fixed 0..15 loss axis) are drawn for lesson data only"
        )
    config = {
        **engine_config(args),
        "mode": "lesson race",
        "preset": args.preset or "lesson",
        "data": data_config(dataset),
        "sizes": sizes,
        "steps": args.steps,
        "regimes": [asdict(result.config) | {"name": result.name} for result in results],
        "sampling": args.sampling,
        "dtype": args.dtype,
        "sgd_options": options,
        "eval_every": eval_every,
    }
    outcome = {
        result.name: {
            "full_loss": result.full_loss,
            "validation_loss": result.validation_loss,
            "steps_per_second": result.history.steps_per_second,
            "diverged_at": result.history.diverged_at,
        }
        for result in results
    }
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
    if stopped or any(result.history.interrupted for result in results):
        code = exit_codes.INTERRUPTED
    print(f"trained in {trained:.2f} s")
    return finish(
        out,
        "compare",
        config,
        seed=args.seed,
        timings={"train_seconds": trained, "total_seconds": time.perf_counter() - started},
        histories={result.name: result.history for result in results},
        results=outcome,
        figures=lambda: (
            race.write_compare_figures(results, dataset, out, painter, jobs=jobs)
            + ([film.write(results, out / "compare_fits.gif")] if film else [])
        ),  # --animate
        code=code,
    )


# --- The fair race ---------------------------------------------------------------------------


def run_fair_race(
    args: argparse.Namespace,
    dataset: Dataset,
    regimes: list[tuple],
    sizes: list[int],
    options: dict,
    out: Path,
    started: float,
) -> int:
    from ...lab.fair_plots import sweep_figure, write_fair_figures

    seeds = args.seeds or fair.DEFAULT_SEEDS
    settings = fair.FairSettings(
        sizes=sizes,
        steps=args.steps,
        seeds=list(range(args.seed, args.seed + seeds)),
        sweep_seed=args.seed + seeds,
        sweep_steps=args.sweep_steps,
        lrs=args.lrs or list(fair.DEFAULT_LRS),
        eval_every=args.eval_every,
        dtype=args.dtype,
        sampling=args.sampling,
        sgd_options=options,
        engine=args.engine,
        backend=args.backend,
    )
    progress = not args.no_progress
    sweep_steps = settings.sweep_steps or settings.steps
    print(dataset.description)
    print(
        f"Fair race: {settings.steps} steps per run, full-data loss every "
        f"{settings.evaluation_interval(settings.steps)} steps with the clock paused, "
        f"{len(settings.seeds)} seeds ({settings.seeds[0]}..{settings.seeds[-1]}), momentum "
        + ", ".join(sorted({f"{momentum:g}" for _, momentum in regimes}))
        + f", {args.dtype}, {args.sampling} sampling"
    )
    print(
        f"Learning-rate sweep: {len(settings.lrs)} rates x {len(regimes)} "
        f"regime{'s' * (len(regimes) != 1)}, one run of "
        f"{sweep_steps} steps each on seed {settings.sweep_seed} (not a race seed); "
        "lowest mean full-data loss over the last fifth of the run wins, diverged runs are out"
    )
    config = {
        **engine_config(args),
        "mode": "fair race",
        "data": data_config(dataset),
        "sizes": sizes,
        "regimes": [{"batch_size": b, "momentum": m} for b, m in regimes],
        "settings": asdict(settings),
    }
    timings: dict[str, float] = {}

    def show_sweep(sweep: list[fair.SweepPoint], chosen: dict[str, fair.SweepPoint]) -> None:
        timings["sweep_seconds"] = time.perf_counter() - started
        print(fair.sweep_table(sweep, chosen))
        for point in chosen.values():
            edge = fair.at_grid_edge(sweep, point)
            if edge:
                print(
                    f"note: {point.regime}'s best lr {point.lr:g} is the {edge} tried; "
                    "the best may lie beyond it: widen --lrs"
                )

    try:
        result = fair.run_fair(dataset, regimes, settings, progress=progress, on_sweep=show_sweep)
    except KeyboardInterrupt:
        print("interrupted during the learning-rate sweep; nothing to race", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except fair.NoStableLearningRate as error:
        timings["sweep_seconds"] = time.perf_counter() - started
        print(fair.sweep_table(error.sweep, {}))
        print(f"error: {error}", file=sys.stderr)
        results = {"sweep": [asdict(point) for point in error.sweep], "error": str(error)}
        return finish(
            out,
            "compare_fair",
            config,
            seed=args.seed,
            timings=timings,
            results=results,
            code=exit_codes.DIVERGED,
        )
    timings["race_seconds"] = time.perf_counter() - started - timings["sweep_seconds"]
    sweep, chosen, runs, done = result.sweep, result.chosen, result.runs, result.seeds
    if result.interrupted:
        print(f"interrupted; {len(done)} seed(s) finished by every regime", file=sys.stderr)
    outcome: dict = {
        "sweep": [asdict(point) for point in sweep],
        "chosen_lr": {regime: point.lr for regime, point in chosen.items()},
        "interrupted": result.interrupted,
    }
    histories = {}
    code = exit_codes.INTERRUPTED if result.interrupted else exit_codes.OK
    if done:
        stats = fair.statistics(result)
        budgets = fair.equal_budgets(result)
        print(fair.race_table(stats))
        print("At equal cost (median over seeds, at the last evaluation within the budget):")
        print(fair.budget_table(budgets))
        outcome |= {"regimes": stats, "equal_budgets": budgets}
        histories = {
            f"{regime} seed {seed}": run.history
            for regime, results in runs.items()
            for seed, run in zip(done, results, strict=True)
        }

        def figures() -> list[Path]:
            return write_fair_figures(result, out)

        for regime, entry in stats.items():
            if entry["diverged_seeds"] and not result.interrupted:
                print(
                    f"{regime} diverged on seed(s) {', '.join(map(str, entry['diverged_seeds']))}"
                    f" at lr {chosen[regime].lr:g}, which was stable on the sweep's seed; "
                    "try --lrs with smaller rates",
                    file=sys.stderr,
                )
                code = exit_codes.DIVERGED
    else:

        def figures() -> list[Path]:
            return [sweep_figure(sweep, chosen, out / "fair_sweep.png")]

    timings["total_seconds"] = time.perf_counter() - started
    print(
        f"sweep {timings['sweep_seconds']:.1f} s, race {timings['race_seconds']:.1f} s, "
        f"total {timings['total_seconds']:.1f} s"
    )
    return finish(
        out,
        "compare_fair",
        config,
        seed=args.seed,
        timings=timings,
        histories=histories,
        results=outcome,
        figures=figures,
        code=code,
    )
