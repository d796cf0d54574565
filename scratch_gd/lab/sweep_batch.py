"""Batch size 1, 2, 4, ... N: how many samples, and how many seconds, to reach a target loss?

A step on a bigger batch costs more but points more exactly downhill (``noise.py``
measures how much more exactly). Whether that pays depends on what is counted:

* **steps** to the target fall as the batch grows, at first in proportion (twice the batch,
  half the steps: *perfect scaling*), then less and less, until more data per step stops
  helping at all: the gradient is already nearly exact, and the step size, not the noise,
  limits progress;
* **samples** = steps x batch stay flat while scaling is perfect and then climb: beyond
  that point each extra sample in a batch is wasted;
* **seconds** follow steps while a step's cost is dominated by fixed overhead, then
  samples once its cost grows with the batch.

To be fair to every batch size, each gets its own learning rate: for each batch size, one
network per learning rate in a small grid trains side by side (same initial weights, same
batches), a few steps at a time, and the full-data loss is measured between those rounds
(not timed). The first learning rate whose loss reaches the target wins; the others stop
there. Momentum is the same for all (0.9 by default), so it is not what differs.

Seconds are steps-to-target times the seconds per step, measured separately: the winning
(batch size, learning rate) pair trains from the same initial weights in uninterrupted
``train()`` calls long enough for the clock to be trusted (the median of a few), so
neither the evaluations nor the pauses between rounds are counted. (Timing the few
milliseconds a fast race takes directly would mostly measure the machine's hiccups.)

The target: ``target_factor`` (1.2 by default) times the lowest full-data loss that
full-batch gradient descent reaches over the learning-rate grid in ``reference_steps``
steps. Full-batch descent has no sampling noise, so its best loss is a clean estimate of
what this network can reach on this data; 20% above it is a loss every batch size can
reach (noise keeps small batches hovering a little above the floor) that still demands a
real fit. On the lesson's data the floor is the noise variance, about 1, so the target is
about 1.15, against a starting loss of about 13. With a validation split the reference is
the full-data loss where full-batch descent's validation loss was lowest instead
(``reference_loss`` says why).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..run.history import Evaluation, History
from ..run.progress import tqdm
from ..run.train import train
from . import verdict
from .race import FULL_LOSS, VALIDATION_LOSS, full_data_loss, loss_evaluator, new_run
from .threads import one_thread

if TYPE_CHECKING:  # only for type hints: matplotlib loads when a figure is drawn
    import matplotlib.pyplot as plt

DEFAULT_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # half a decade apart
DEFAULT_MOMENTUM = 0.9
DEFAULT_TARGET_FACTOR = 1.2
DEFAULT_REFERENCE_STEPS = 300
DEFAULT_MAX_STEPS = 3000
EXACT_CHECKPOINTS = 10  # the loss is measured after each of the first 10 steps,
CHECKPOINT_GROWTH = 1.1  # then every time the step count has grown by another 10%
TIMING_REPEATS = 3  # seconds per step: the median of this many timed runs
TIMING_SECONDS = 0.05  # each lasting at least about this long
TIMING_FIRST_STEPS = 16
TIMING_MAX_STEPS = 1_000_000


class NoReference(ValueError):
    """Full-batch descent diverged at every learning rate: no loss to set a target from."""


# --- The race --------------------------------------------------------------------------------


def batch_grid(n_samples: int) -> list[int]:
    """1, 2, 4, ... up to the largest power of two below N, then N itself (full batch)."""
    sizes = [2**k for k in range(int(math.log2(n_samples)) + 1) if 2**k < n_samples]
    return [*sizes, n_samples]


def checkpoints(max_steps: int) -> list[int]:
    """Step counts at which a race measures the loss: 1, 2, ..., 10, then about +10% each.

    Finding the step that reaches the target therefore costs at most 10% precision, and
    a race of thousands of steps needs only about a hundred measurements.
    """
    points = list(range(1, min(EXACT_CHECKPOINTS, max_steps) + 1))
    while points[-1] < max_steps:
        points.append(min(max_steps, math.ceil(points[-1] * CHECKPOINT_GROWTH)))
    return points


@dataclass
class LrRun:
    """One learning rate's run in a race: the losses measured at each checkpoint."""

    lr: float
    steps: list[int] = field(default_factory=list)
    full_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    segments: list[History] = field(default_factory=list)
    diverged_at: int | None = None

    def first_hit(self, target: float) -> int | None:
        """Index of the first checkpoint whose full-data loss is at or below ``target``."""
        return next((k for k, loss in enumerate(self.full_loss) if loss <= target), None)


@dataclass
class Race:
    """Every learning rate of the grid, trained side by side at one batch size."""

    batch_size: int
    runs: list[LrRun]
    n_samples: int

    def winner(self, target: float) -> tuple[LrRun, int] | None:
        """The run that reached ``target`` in the fewest steps (ties: the lower loss there),
        with the index of that checkpoint; None if no run reached it."""
        hits = [(run, run.first_hit(target)) for run in self.runs]
        hits = [(run, k) for run, k in hits if k is not None]
        if not hits:
            return None
        return min(hits, key=lambda hit: (hit[0].steps[hit[1]], hit[0].full_loss[hit[1]]))

    @property
    def best_loss(self) -> float:
        losses = [loss for run in self.runs for loss in run.full_loss if math.isfinite(loss)]
        return min(losses) if losses else math.inf


def segment_seed(seed: int, batch_size: int, segment: int) -> int:
    """A seed for one round of a race: the same for every learning rate (same batches)."""
    return int(np.random.SeedSequence([seed, batch_size, segment]).generate_state(1)[0])


def race(x: np.ndarray, y: np.ndarray, **settings) -> Race:
    """``_race`` on one Numba thread: untimed, the same bits on any number of threads, and
    no waiting for a second thread on a busy machine (``threads.one_thread``)."""
    with one_thread():
        return _race(x, y, **settings)


def _race(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: Sequence[int],
    batch_size: int,
    lrs: Sequence[float],
    momentum: float,
    target: float | None,
    max_steps: int,
    seed: int = 0,
    dtype: str = "float32",
    sgd_options: dict | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    engine: str = "layers",
    backend: str = "numba",
) -> Race:
    """Train one network per learning rate at this batch size, in rounds up to each
    checkpoint; stop once a run reaches ``target`` (never, if it is None) or at
    ``max_steps``. A run whose loss or weights stop being finite drops out; one that ends
    above ``verdict.DIVERGED_FACTOR`` times the initial loss is marked diverged too (the
    lab's one rule), at its last checkpoint."""
    evaluate = loss_evaluator(x, y, x_val, y_val)
    runs = [LrRun(lr) for lr in lrs]
    live = {  # index of a run still in the race -> its model and optimiser
        index: new_run(
            run.lr,
            sizes=sizes,
            momentum=momentum,
            seed=seed,
            dtype=dtype,
            options=sgd_options or {},
            backend=backend,
        )
        for index, run in enumerate(runs)
    }
    initial = full_data_loss(next(iter(live.values()))[0], x, y) if live else math.inf
    done = 0
    for segment, end in enumerate(checkpoints(max_steps)):
        for index in list(live):
            run, (model, optimizer) = runs[index], live[index]
            history = train(
                model,
                optimizer,
                x,
                y,
                batch_size=batch_size,
                steps=end - done,
                seed=segment_seed(seed, batch_size, segment),
                progress=False,
                engine=engine,
            )
            if history.interrupted:
                raise KeyboardInterrupt  # stop the whole sweep, not just this round
            run.segments.append(history)
            if history.diverged_at is not None:
                run.diverged_at = done + history.diverged_at
                del live[index]
                continue
            metrics = evaluate(model)
            if not math.isfinite(metrics[FULL_LOSS]):
                run.diverged_at = end
                del live[index]
                continue
            run.steps.append(end)
            run.full_loss.append(metrics[FULL_LOSS])
            if VALIDATION_LOSS in metrics:
                run.validation_loss.append(metrics[VALIDATION_LOSS])
        done = end
        reached = target is not None and any(runs[index].full_loss[-1] <= target for index in live)
        if reached or not live:
            break
    for run in runs:  # the lab's rule: ending far above the start is diverging too
        if (
            run.diverged_at is None
            and run.full_loss
            and verdict.diverged(run.full_loss[-1], initial)
        ):
            run.diverged_at = run.steps[-1]
    return Race(batch_size, runs, len(x))


def seconds_per_step(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: Sequence[int],
    batch_size: int,
    lr: float,
    momentum: float,
    seed: int = 0,
    dtype: str = "float32",
    sgd_options: dict | None = None,
    repeats: int = TIMING_REPEATS,
    engine: str = "layers",
    backend: str = "numba",
) -> float:
    """Wall-clock seconds per training step at this batch size: the median of ``repeats``
    uninterrupted ``train()`` runs from the same initial weights, each long enough (about
    ``TIMING_SECONDS``) for the clock to be trusted. A run that diverges is timed over the
    steps it took."""

    def timed(steps: int) -> tuple[float, int]:
        model, optimizer = new_run(
            lr,
            sizes=sizes,
            momentum=momentum,
            seed=seed,
            dtype=dtype,
            options=sgd_options or {},
            backend=backend,
        )
        history = train(
            model,
            optimizer,
            x,
            y,
            batch_size=batch_size,
            steps=steps,
            seed=seed,
            progress=False,
            engine=engine,
        )
        if history.interrupted:
            raise KeyboardInterrupt
        return history.total_seconds, history.steps

    steps = TIMING_FIRST_STEPS
    seconds, done = timed(steps)  # also a warm-up, so not one of the repeats
    while seconds < TIMING_SECONDS and done == steps and steps < TIMING_MAX_STEPS:
        steps = min(TIMING_MAX_STEPS, math.ceil(steps * 2 * TIMING_SECONDS / max(seconds, 1e-6)))
        seconds, done = timed(steps)
    per_step = []
    for _ in range(repeats):
        seconds, done = timed(steps)
        if done:
            per_step.append(seconds / done)
    return float(np.median(per_step)) if per_step else math.nan


@dataclass
class BatchResult:
    """What one batch size needed to reach the target (None: not within the step budget)."""

    batch_size: int
    lr: float | None  # the winning learning rate
    steps: int | None
    samples: int | None
    seconds: float | None
    validation_loss: float | None  # of the winner, at the checkpoint that reached the target
    best_loss: float  # the lowest full-data loss any learning rate reached in the race
    diverged_lrs: list[float]
    race: Race

    @property
    def reached(self) -> bool:
        return self.steps is not None

    @property
    def budget_steps(self) -> int:
        """Steps the race ran (the largest checkpoint any run got to)."""
        return max((run.steps[-1] for run in self.race.runs if run.steps), default=0)


@dataclass
class SweepResult:
    target: float
    target_note: str  # where the target came from
    results: list[BatchResult]
    n_samples: int
    lrs: list[float]
    momentum: float
    max_steps: int
    noise_floor: float | None = None  # the true curve's loss on the data (lesson only)


def summarise(race_result: Race, target: float, timing: dict) -> BatchResult:
    """Read one race: the winner, its steps and samples to the target, and the timing."""
    winner = race_result.winner(target)
    diverged = [run.lr for run in race_result.runs if run.diverged_at is not None]
    common = dict(
        batch_size=race_result.batch_size,
        best_loss=race_result.best_loss,
        diverged_lrs=diverged,
        race=race_result,
    )
    if winner is None:
        return BatchResult(
            lr=None, steps=None, samples=None, seconds=None, validation_loss=None, **common
        )
    run, index = winner
    steps = run.steps[index]
    per_step = seconds_per_step(batch_size=race_result.batch_size, lr=run.lr, **timing)
    validation = run.validation_loss[index] if run.validation_loss else None
    return BatchResult(
        lr=run.lr,
        steps=steps,
        samples=steps * race_result.batch_size,
        seconds=steps * per_step,
        validation_loss=validation,
        **common,
    )


def reference_loss(reference: Race) -> tuple[float, str]:
    """The loss the default target is a multiple of, and how it was chosen.

    Without validation data: the lowest full-data loss of the reference race. With it: the
    full-data loss at the checkpoint where the *validation* loss was lowest (where early
    stopping would stop). A network that can memorise its training data drives the
    training loss on down long after it stops learning anything general; a target set
    from that would ask every batch size to memorise.
    """
    checkpoints = [
        (run.validation_loss[k], run.full_loss[k])
        for run in reference.runs
        for k in range(len(run.validation_loss))
        if math.isfinite(run.validation_loss[k])
    ]
    if not checkpoints:
        return reference.best_loss, "the lowest full-data loss full-batch descent reached"
    _, loss = min(checkpoints)
    return loss, "full-batch descent's full-data loss where its validation loss was lowest"


def sweep_batch_sizes(
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: Sequence[int],
    batch_sizes: Sequence[int],
    lrs: Sequence[float] = DEFAULT_LRS,
    momentum: float = DEFAULT_MOMENTUM,
    target_loss: float | None = None,
    target_factor: float = DEFAULT_TARGET_FACTOR,
    reference_steps: int = DEFAULT_REFERENCE_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    seed: int = 0,
    dtype: str = "float32",
    sgd_options: dict | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    progress: bool = False,
    engine: str = "layers",
    backend: str = "numba",
) -> SweepResult:
    """Race every batch size to the target; see the module docstring for the method."""
    n = len(x)
    engines = dict(engine=engine, backend=backend)
    settings = (
        dict(
            sizes=sizes, lrs=lrs, momentum=momentum, seed=seed, dtype=dtype, sgd_options=sgd_options
        )
        | engines
    )
    timing = (
        dict(
            x=x,
            y=y,
            sizes=sizes,
            momentum=momentum,
            seed=seed,
            dtype=dtype,
            sgd_options=sgd_options,
        )
        | engines
    )
    races: dict[int, Race] = {}
    if target_loss is None:
        # The reference: full-batch descent over the grid, with no target to stop at.
        reference = race(
            x,
            y,
            batch_size=n,
            target=None,
            max_steps=reference_steps,
            x_val=x_val,
            y_val=y_val,
            **settings,
        )
        start, _ = new_run(lrs[0], sizes=sizes, momentum=momentum, seed=seed, dtype=dtype,
                           options=sgd_options or {}, backend=backend)  # fmt: skip
        initial = full_data_loss(start, x, y)
        if not reference.best_loss < initial:
            raise NoReference(
                f"full-batch descent never got below the initial loss {initial:.4g} at any "
                "learning rate (diverged or stuck), so there is no reference to set the "
                "target from; give smaller --lrs or a --target-loss"
            )
        best, how = reference_loss(reference)
        target = target_factor * best
        note = (
            f"target loss {target:.4g} = {target_factor:g} x {best:.4g}, {how} in "
            f"{reference_steps} steps over the learning-rate grid (set it with --target-loss)"
        )
        races[n] = reference
    else:
        target = target_loss
        note = f"target loss {target:.4g} (from --target-loss)"
    results = []
    for batch_size in tqdm(batch_sizes, desc="batch sizes", disable=not progress):
        if batch_size not in races:
            races[batch_size] = race(
                x,
                y,
                batch_size=batch_size,
                target=target,
                max_steps=max_steps,
                x_val=x_val,
                y_val=y_val,
                **settings,
            )
        results.append(summarise(races[batch_size], target, timing))
    floor = verdict.noise_floor(x, y)
    return SweepResult(target, note, results, n, list(lrs), momentum, max_steps, floor)


def winner_history(result: BatchResult, target: float) -> History | None:
    """The winning run up to the checkpoint that reached the target: its steps joined
    across rounds, its checkpoint losses as evaluations (for the run record). None if no
    learning rate reached the target."""
    winner = result.race.winner(target)
    if winner is None:
        return None
    run, hit = winner
    stop = run.steps[hit]
    parts = run.segments
    offsets = np.cumsum([0, *(int(p.samples_seen[-1]) if p.steps else 0 for p in parts)])
    clocks = np.cumsum([0.0, *(p.total_seconds for p in parts)])
    samples = [p.samples_seen + o for p, o in zip(parts, offsets, strict=False)]
    seconds = [p.seconds + c for p, c in zip(parts, clocks, strict=False)]
    history = History(
        loss=np.concatenate([p.loss for p in parts])[:stop],
        samples_seen=np.concatenate(samples)[:stop],
        seconds=np.concatenate(seconds)[:stop],
        batch_size=result.batch_size,
        n_samples=result.race.n_samples,
        sampling=parts[0].sampling,
        engine=parts[0].engine,
    )
    history.info["lr"] = run.lr
    for k, step in enumerate(run.steps[: hit + 1]):
        metrics = {FULL_LOSS: run.full_loss[k]}
        if run.validation_loss:
            metrics[VALIDATION_LOSS] = run.validation_loss[k]
        clock = float(history.seconds[step - 1])  # the race's clock, rounds and all
        history.evaluations.append(
            Evaluation(step, int(history.samples_seen[step - 1]), clock, metrics)
        )
    return history


def sweep_table(sweep: SweepResult) -> str:
    """One row per batch size: the winning lr, steps, samples and seconds to the target."""
    with_validation = any(r.validation_loss is not None for r in sweep.results)
    header = (
        f"{'batch':>6} {'best lr':>8} {'steps':>7} {'samples':>10} {'seconds':>9} "
        f"{'steps/s':>9} {'best loss':>9}"
        + (f" {'val. loss':>9}" if with_validation else "")
        + "  lrs that diverged"
    )
    lines = [header, "-" * len(header)]
    for r in sweep.results:
        diverged = ", ".join(f"{lr:g}" for lr in r.diverged_lrs) or "-"
        if r.reached:
            rate = r.steps / r.seconds if r.seconds and r.seconds > 0 else math.inf
            row = (
                f"{r.batch_size:>6} {r.lr:>8g} {r.steps:>7} {r.samples:>10} {r.seconds:>9.4f} "
                f"{rate:>9.0f} {r.best_loss:>9.4g}"
            )
            if with_validation:
                row += f" {r.validation_loss:>9.4g}" if r.validation_loss is not None else " " * 10
        else:
            row = (
                f"{r.batch_size:>6} {'-':>8} {'>' + str(r.budget_steps):>7} {'not reached':>10} "
                f"{'-':>9} {'-':>9} {r.best_loss:>9.4g}"
            )
            if with_validation:
                row += f" {'-':>9}"
        lines.append(f"{row}  {diverged}")
    return "\n".join(lines)


# --- Figure ---------------------------------------------------------------------------------


def sweep_figure(sweep: SweepResult, path: Path, *, subtitle: str = "") -> Path:
    """Three panels: the loss curves of some batch sizes' winning runs against samples
    seen, then steps and samples to the target against batch size (log-log), with the
    perfect-scaling line to compare and unreached batch sizes marked.

    Seconds are left out of the figure: at a few milliseconds per run they mostly
    measure the machine's hiccups (the table has them)."""
    import matplotlib.pyplot as plt

    from .race_plots import save

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), layout="constrained")
    _curves_panel(axes[0], sweep)
    panels = (
        (axes[1], "steps", "Steps to target (log scale)", "Steps to the target"),
        (axes[2], "samples", "Samples to target (count, log scale)", "Samples to the target"),
    )
    for ax, name, ylabel, title in panels:
        _cost_panel(ax, sweep, name)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title} (dotted: perfect scaling)", fontsize=10)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
    title = f"Batch size sweep: the cost of reaching full-data loss {sweep.target:.3g}"
    fig.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize=11)
    return save(fig, path)


CURVE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf"]
CURVE_STYLES = ["-", "--", "-.", ":"]
MAX_CURVES = 4  # more noisy curves than this on one panel cannot be told apart


def shown_sizes(sizes: list[int], most: int = MAX_CURVES) -> list[int]:
    """At most ``most`` batch sizes, spread evenly over the list, first and last kept."""
    if len(sizes) <= most:
        return list(sizes)
    picks = np.unique(np.round(np.linspace(0, len(sizes) - 1, most)).astype(int))
    return [sizes[k] for k in picks]


def tick_sizes(sizes: list[int]) -> list[int]:
    """The batch sizes to label on a log axis: all of them, except a power of two that sits
    too close to the full batch after it (256 and 353) for both labels to fit."""
    if len(sizes) >= 2 and sizes[-1] < 1.6 * sizes[-2]:
        return [*sizes[:-2], sizes[-1]]
    return list(sizes)


def _curves_panel(ax: plt.Axes, sweep: SweepResult) -> None:
    """Full-data loss against samples seen for a few batch sizes (``shown_sizes``): each
    one's winning run up to the target, or, where none reached it, its lowest run
    (thinner, marked "not reached"). Each has its own colour, line style and legend entry."""
    results = {r.batch_size: r for r in sweep.results}
    shown = shown_sizes(list(results))
    for k, size in enumerate(shown):
        result = results[size]
        winner = result.race.winner(sweep.target)
        if winner is not None:
            run, hit = winner
            note = f", lr {run.lr:g}"
        else:
            tried = [run for run in result.race.runs if run.full_loss]
            if not tried:
                continue
            run = min(tried, key=lambda r: min(r.full_loss))
            hit, note = len(run.steps) - 1, ", not reached"
        samples = np.array(run.steps[: hit + 1]) * result.batch_size
        ax.plot(
            samples,
            run.full_loss[: hit + 1],
            CURVE_STYLES[k % len(CURVE_STYLES)],
            color=CURVE_COLORS[k % len(CURVE_COLORS)],
            linewidth=1.6,
            label=f"batch {size}{note}",
        )
    ax.axhline(sweep.target, color="0.3", linewidth=1.0, label=f"target {sweep.target:.3g}")
    verdict.draw_floor(ax, sweep.noise_floor)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Samples seen (count, log scale)")
    ax.set_ylabel("Full-data loss (MSE, log scale)")
    left_out = len(results) - len(shown)
    ax.set_title(
        "Winning runs, up to the target"
        + (f" ({len(shown)} of {len(results)} batch sizes)" if left_out else ""),
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)


def _cost_panel(ax: plt.Axes, sweep: SweepResult, name: str) -> None:
    """One cost (steps, samples or seconds) to the target, against batch size."""
    results = sweep.results
    reached = [r for r in results if r.reached]
    missed = [r for r in results if not r.reached]
    xs = [r.batch_size for r in reached]
    if reached:
        label = "reached the target (best lr of the grid)"
        ax.plot(xs, [getattr(r, name) for r in reached], "o-", color="#1f77b4", label=label)
    if reached and name != "seconds":
        # Perfect scaling from the smallest batch: the same samples, so steps ~ 1/B (but a
        # run takes at least one step).
        first = reached[0]
        grid = np.geomspace(first.batch_size, results[-1].batch_size, 50)
        ideal = np.full_like(grid, float(first.samples))
        if name == "steps":
            ideal = np.maximum(ideal / grid, 1.0)
        ax.plot(grid, ideal, ":", color="0.4", label="perfect scaling from the smallest batch")
    if missed:
        label = "not reached within the step budget"
        if name == "seconds":
            ax.plot([], [], "x", color="#d62728", label=f"{label} (no time to show)")
        else:
            budget = [r.budget_steps * (r.batch_size if name == "samples" else 1) for r in missed]
            ax.plot(
                [r.batch_size for r in missed],
                budget,
                "x",
                color="#d62728",
                markersize=10,
                label=f"{label} (drawn at the budget)",
            )
    ax.set_xscale("log", base=2)
    ticks = tick_sizes([r.batch_size for r in results])
    ax.set_xticks(ticks, [str(size) for size in ticks], minor=False, rotation=45)
    ax.minorticks_off()
    if reached or (missed and name != "seconds"):
        ax.set_yscale("log")
    else:
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            "no batch size reached the target",
            transform=ax.transAxes,
            ha="center",
            va="center",
        )
    ax.set_xlabel("Batch size (samples per step, log scale)")
    ax.legend(fontsize=8)
