"""Momentum 0, 0.5, 0.9, 0.99 and 1 on the same problem: why 1 never settles.

SGD with momentum m keeps a velocity v and steps along it (torch's form, ``sgd.py``):

    v = m v + g,        p = p - lr v.

Unrolled, v_t = g_t + m g_{t-1} + m^2 g_{t-2} + ...: a running sum of past gradients in
which each one fades by a factor m per step. Where the gradient is steady at g, the
velocity settles at g (1 + m + m^2 + ...) = g / (1 - m), so each step moves by
lr / (1 - m) times the gradient: the *effective step*. Momentum 0.9 moves ten times as far
as plain SGD, 0.99 a hundred times.

At m = 1 the series does not converge: nothing fades, the velocity is the sum of *every*
gradient so far and the effective step is infinite. Near a minimum the gradient changes
sign as the weights pass it, so v swings back and forth but never shrinks: a ball rolling
in a bowl with no friction. The loss oscillates for as long as training runs (with noisy
mini-batch gradients the velocity even random-walks upward). With m < 1 the friction
(1 - m) per step drains the velocity and the weights come to rest.

Every run here starts from the same initial weights and, with mini-batches, draws the same
batches (same seed): only the momentum differs.

What is measured, and how often. At m = 1 the weights swing with a period of only a few
steps, so a loss sampled every 10 steps would alias that swing into a slow, false wave.
The velocity norm is therefore measured after *every* step. With full batches (the
default) the training loss of each step *is* the full-data loss at that step's weights,
exact and free, so the figure plots it step by step; with smaller batches the full-data
loss is measured every ``eval_every`` steps and the figure says so.

m = 1 is chaotic. Its run depends on the last bits of the arithmetic: float32 and float64,
or two CPUs that round a sum differently, start equal and part after a few hundred steps,
and by the end their losses and velocities have nothing in common but their range. Quote
of it only what every such run shares: the velocity does not decay and the loss keeps
climbing back up. m < 1 runs settle to the same place whatever the rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..reference.mlp import MLP
from ..reference.sgd import SGD
from ..run.history import History
from ..run.train import train
from . import verdict
from .race import FULL_LOSS, VALIDATION_LOSS, loss_evaluator, new_run, number_text
from .threads import one_thread

DEFAULT_MOMENTA = (0.0, 0.5, 0.9, 0.99, 1.0)
VELOCITY_NORM = "velocity_norm"  # metric name: ||v|| over every parameter
SETTLED_VELOCITY_RATIO = 0.1  # "settled": the velocity fell below this share of its peak
LAST_SHARE = 0.25  # rises of the loss are counted over this last share of the run


@dataclass
class MomentumRun:
    """One momentum's run and what it says about settling."""

    momentum: float
    lr: float
    history: History
    steps: np.ndarray  # steps taken at each full-data evaluation (every eval_every steps)
    full_loss: np.ndarray  # full-data loss at each of those evaluations
    validation_loss: np.ndarray | None
    velocity_norm: np.ndarray  # ||v|| after every step (entry k: after k steps; 0 at k = 0)
    full_batch: bool = False  # every step used all the data: history.loss is the full loss
    noise_floor: float | None = None  # the true curve's loss on the data (lesson only)

    @property
    def velocity_steps(self) -> np.ndarray:
        return np.arange(len(self.velocity_norm))

    def loss_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, full-data loss) as finely as it is known: step by step for full
        batches (the loss at the weights before step k + 1 is history.loss[k]), else at
        the evaluations."""
        if self.full_batch and self.history.steps:
            return np.arange(self.history.steps), np.asarray(self.history.loss, dtype=float)
        return self.steps, self.full_loss

    @property
    def effective_step(self) -> float:
        """lr / (1 - m): how far a steady gradient moves the weights per step (inf at m >= 1)."""
        return self.lr / (1 - self.momentum) if self.momentum < 1 else math.inf

    @property
    def diverged(self) -> bool:
        """The lab's rule (``verdict.diverged``): training stopped on a non-finite number,
        or the last full-data loss is above DIVERGED_FACTOR x the first."""
        stopped = self.history.diverged_at is not None
        if not len(self.full_loss):
            return stopped
        return verdict.diverged(
            float(self.full_loss[-1]), float(self.full_loss[0]), stopped=stopped
        )

    def _last(self, values: np.ndarray) -> np.ndarray:
        count = max(2, math.ceil(len(values) * LAST_SHARE))
        return values[-count:]

    @property
    def rises(self) -> float:
        """How far the full-data loss climbed back up over the last quarter of the run: the
        sum of its increases between evaluations, over its lowest value there. 0 for a loss
        that only falls; large for one that swings."""
        last = self._last(self.full_loss)
        low = float(np.min(last))
        climbed = float(np.sum(np.maximum(np.diff(last), 0.0)))
        return climbed / low if low > 0 else math.inf

    @property
    def velocity_ratio(self) -> float:
        """||v|| at the end over its peak: near 0 once it has decayed, near 1 (or more) if not."""
        peak = float(np.max(self.velocity_norm)) if len(self.velocity_norm) else 0.0
        return float(self.velocity_norm[-1]) / peak if peak > 0 else 0.0

    @property
    def settled(self) -> bool:
        return not self.diverged and self.velocity_ratio < SETTLED_VELOCITY_RATIO


def velocity_norm(optimizer: SGD) -> float:
    """||v|| over all parameters: the length of the direction the last step moved along.

    With momentum 0 torch keeps no velocity buffer; each step moves along the gradient
    itself (v = g), so this is the last gradient's norm. Before the first step it is 0.
    """
    if optimizer.momentum == 0:
        arrays = [param.grad for param in optimizer.params]
    else:
        arrays = [velocity for velocity in optimizer.velocity if velocity is not None]
    return math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))


def run_momentum(
    momentum: float,
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: Sequence[int],
    lr: float,
    batch_size: int,
    steps: int,
    eval_every: int,
    seed: int = 0,
    dtype: str = "float32",
    sgd_options: dict | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    progress: bool = False,
    engine: str = "layers",
    backend: str = "numba",
) -> MomentumRun:
    """Train a fresh MLP (initial weights and batches from ``seed``) with this momentum,
    measuring the velocity norm after every step and the full-data loss every
    ``eval_every`` steps and after the last (clock paused)."""
    model, optimizer = new_run(
        lr,
        sizes=sizes,
        momentum=momentum,
        seed=seed,
        dtype=dtype,
        options=sgd_options,
        backend=backend,
    )
    losses = loss_evaluator(x, y, x_val, y_val)
    looked = [0]  # train() evaluates at step 0 and after every step: this counts them

    def evaluate(model: MLP) -> dict[str, float]:
        step, looked[0] = looked[0], looked[0] + 1
        metrics = {VELOCITY_NORM: velocity_norm(optimizer)}
        if step % eval_every == 0 or step == steps:
            metrics |= losses(model)
        return metrics

    with one_thread():  # untimed; the same bits, and no waiting on a busy machine
        history = train(
            model,
            optimizer,
            x,
            y,
            batch_size=batch_size,
            steps=steps,
            seed=seed,
            progress=progress,
            desc=f"momentum {momentum:g}",
            evaluate=evaluate,
            eval_every=1,
            engine=engine,
        )
    if history.evaluations and FULL_LOSS not in history.evaluations[-1].metrics:
        # Stopped early (diverged) between two loss evaluations: measure where it ended.
        history.evaluations[-1].metrics |= losses(model)
    evaluations = [e for e in history.evaluations if FULL_LOSS in e.metrics]
    validation = None
    if x_val is not None:
        validation = np.array([e.metrics[VALIDATION_LOSS] for e in evaluations])
    return MomentumRun(
        momentum=momentum,
        lr=lr,
        history=history,
        steps=np.array([e.step for e in evaluations]),
        full_loss=np.array([e.metrics[FULL_LOSS] for e in evaluations]),
        validation_loss=validation,
        velocity_norm=np.array([e.metrics[VELOCITY_NORM] for e in history.evaluations]),
        full_batch=batch_size >= len(x),
        noise_floor=verdict.noise_floor(x, y),
    )


def momentum_table(runs: Sequence[MomentumRun]) -> str:
    """One row per momentum: effective step, losses, rises, velocity decay and verdict."""
    with_validation = any(run.validation_loss is not None for run in runs)
    header = (
        f"{'momentum':>8} {'lr/(1-m)':>9} {'final loss':>10} {'best loss':>10}"
        + (f" {'final val.':>10}" if with_validation else "")
        + f" {'rises, last 1/4':>15} {'|v| end/peak':>12}  verdict"
    )
    lines = [header, "-" * len(header)]
    for run in runs:
        effective = f"{run.effective_step:.3g}" if math.isfinite(run.effective_step) else "inf"
        validation = ""
        if with_validation:
            validation = (
                f" {run.validation_loss[-1]:>10.4f}" if run.validation_loss is not None else ""
            )
        if run.diverged and run.history.diverged_at is not None:
            judged = f"diverged at step {run.history.diverged_at + 1}"
        elif run.diverged:
            judged = f"diverged (ends above {verdict.DIVERGED_FACTOR:g}x its initial loss)"
        else:
            judged = "settled" if run.settled else "still moving"
        rises = f"{run.rises:.1%}" if math.isfinite(run.rises) and run.rises < 1e4 else "huge"
        lines.append(
            f"{run.momentum:>8g} {effective:>9} {number_text(run.full_loss[-1]):>10} "
            f"{number_text(np.min(run.full_loss)):>10}{validation} {rises:>15} "
            f"{number_text(run.velocity_ratio, 3):>12}  {judged}"
        )
    lines.append(
        f"{verdict.DIVERGED_RULE}; settled = |v| ended below {SETTLED_VELOCITY_RATIO:g} of its "
        "peak (|v| measured after every step)"
    )
    return "\n".join(lines)


def effective_step_note(lr: float, momenta: Sequence[float]) -> str:
    """The short note printed beside the table."""
    steps = ", ".join(
        f"m={m:g}: {lr / (1 - m):.3g}" if m < 1 else f"m={m:g}: infinite" for m in momenta
    )
    return (
        f"effective step lr/(1-m) with lr {lr:g}: {steps}. A steady gradient g builds the "
        "velocity up to g/(1-m); at m = 1 nothing fades, the velocity keeps every gradient "
        "it has seen, and the weights swing around the minimum instead of settling."
    )


# --- Figure ---------------------------------------------------------------------------------

COLORS = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#d62728", "#8c564b", "#17becf"]


def momentum_figure(runs: Sequence[MomentumRun], path: Path, *, subtitle: str = "") -> Path:
    """Left: full-data loss against steps (every step for full batches). Right: the velocity
    norm after every step. Nothing is sampled sparsely, so m = 1's fast swing cannot alias."""
    import matplotlib.pyplot as plt

    from .race_plots import save

    fig, (loss_ax, velocity_ax) = plt.subplots(1, 2, figsize=(11, 5.2), layout="constrained")
    every_step = all(run.full_batch for run in runs)
    for color, run in zip(COLORS * 2, runs, strict=False):
        effective = f"{run.effective_step:.3g}" if math.isfinite(run.effective_step) else "∞"
        label = f"m = {run.momentum:g} (lr/(1−m) = {effective})"
        steps, loss = run.loss_curve()
        finite = np.isfinite(loss)
        loss_ax.plot(steps[finite], loss[finite], color=color, linewidth=0.9, label=label)
        if run.validation_loss is not None:
            shown = np.isfinite(run.validation_loss)
            loss_ax.plot(
                run.steps[shown],
                run.validation_loss[shown],
                color=color,
                linestyle="--",
                linewidth=1,
                label=f"m = {run.momentum:g}, validation",
            )
        if run.diverged and finite.any():
            loss_ax.plot(
                steps[finite][-1],
                loss[finite][-1],
                "x",
                color=color,
                markersize=10,
                label=f"m = {run.momentum:g} diverged",
            )
        moving = run.velocity_norm > 0  # there is no velocity before the first step
        velocity_ax.plot(
            run.velocity_steps[moving], run.velocity_norm[moving], color=color, linewidth=0.9
        )
    verdict.draw_floor(loss_ax, runs[0].noise_floor if runs else None)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("Step (one parameter update)")
    loss_ax.set_ylabel(
        "Full-data loss at every step (MSE, log scale)"
        if every_step
        else "Full-data loss (MSE, log scale)"
    )
    loss_ax.set_title(
        "Loss" + (", every step (full batches: exact)" if every_step else ", at the evaluations"),
        fontsize=10,
    )
    velocity_ax.set_yscale("log")
    velocity_ax.set_xlabel("Step (one parameter update)")
    velocity_ax.set_ylabel("‖v‖ after every step (log scale; m = 0: ‖g‖)")
    velocity_ax.set_title("Velocity: m < 1 drains it, m = 1 never lets it decay", fontsize=10)
    for ax in (loss_ax, velocity_ax):
        ax.grid(alpha=0.3, which="both")
    fig.legend(loc="outside lower center", fontsize=8, ncol=3)
    title = "Momentum on the same problem: same lr, same initial weights, same batches"
    fig.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize=11)
    return save(fig, path)
