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
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..reference.mlp import MLP
from ..reference.sgd import SGD
from ..run.history import History
from ..run.train import train
from .race import FULL_LOSS, VALIDATION_LOSS, loss_evaluator

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
    steps: np.ndarray  # steps taken at each evaluation
    full_loss: np.ndarray  # full-data loss at each evaluation
    validation_loss: np.ndarray | None
    velocity_norm: np.ndarray  # ||v|| at each evaluation (0 before the first step)

    @property
    def effective_step(self) -> float:
        """lr / (1 - m): how far a steady gradient moves the weights per step (inf at m >= 1)."""
        return self.lr / (1 - self.momentum) if self.momentum < 1 else math.inf

    @property
    def diverged(self) -> bool:
        return self.history.diverged_at is not None

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
    measuring full-data loss and velocity norm every ``eval_every`` steps (clock paused)."""
    model = MLP(sizes, dtype=dtype, seed=seed, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # momentum 1 on purpose: this experiment is about it
        optimizer = SGD(model.parameters(), lr=lr, momentum=momentum, **(sgd_options or {}))
    losses = loss_evaluator(x, y, x_val, y_val)

    def evaluate(model: MLP) -> dict[str, float]:
        metrics = losses(model)
        metrics[VELOCITY_NORM] = velocity_norm(optimizer)
        return metrics

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
        eval_every=eval_every,
        engine=engine,
    )
    evaluations = history.evaluations
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
        velocity_norm=np.array([e.metrics[VELOCITY_NORM] for e in evaluations]),
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
        if run.diverged:
            verdict = f"diverged at step {run.history.diverged_at + 1}"
        else:
            verdict = "settled" if run.settled else "still moving"
        lines.append(
            f"{run.momentum:>8g} {effective:>9} {run.full_loss[-1]:>10.4f} "
            f"{np.min(run.full_loss):>10.4f}{validation} {run.rises:>14.1%} "
            f"{run.velocity_ratio:>12.3f}  {verdict}"
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
    """Left: full-data loss against steps. Right: the velocity norm against steps."""
    import matplotlib.pyplot as plt

    from .race_plots import save

    fig, (loss_ax, velocity_ax) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    for color, run in zip(COLORS * 2, runs, strict=False):
        effective = f"{run.effective_step:.3g}" if math.isfinite(run.effective_step) else "∞"
        label = f"m = {run.momentum:g} (lr/(1−m) = {effective})"
        finite = np.isfinite(run.full_loss)
        loss_ax.plot(run.steps[finite], run.full_loss[finite], color=color, label=label)
        if run.validation_loss is not None:
            loss_ax.plot(
                run.steps[finite],
                run.validation_loss[finite],
                color=color,
                linestyle="--",
                linewidth=1,
                label=f"m = {run.momentum:g}, validation",
            )
        if run.diverged:
            loss_ax.plot(
                run.steps[finite][-1],
                run.full_loss[finite][-1],
                "x",
                color=color,
                markersize=10,
                label=f"m = {run.momentum:g} diverged at step {run.history.diverged_at + 1}",
            )
        moving = run.velocity_norm > 0  # there is no velocity before the first step
        velocity_ax.plot(run.steps[moving], run.velocity_norm[moving], color=color, label=label)
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("Step (one parameter update)")
    loss_ax.set_ylabel("Full-data loss (MSE, log scale)")
    loss_ax.set_title("Loss: with momentum 1 it keeps swinging")
    velocity_ax.set_yscale("log")
    velocity_ax.set_xlabel("Step (one parameter update)")
    velocity_ax.set_ylabel("Velocity norm ‖v‖ (gradient units, log scale; at m = 0, ‖g‖)")
    velocity_ax.set_title("Velocity: m < 1 drains it, m = 1 never lets it decay")
    for ax in (loss_ax, velocity_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="best")
    title = "Momentum on the same problem: same lr, same initial weights, same batches"
    fig.suptitle(f"{title}\n{subtitle}" if subtitle else title)
    return save(fig, path)
