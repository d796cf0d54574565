"""Final loss over a grid of learning rates and momenta.

Each cell trains a fresh network (the same initial weights and the same batches in every
cell) for the same number of steps with one (lr, momentum) pair, then measures the loss
over all the training data. Four things show up, each judged by the lab's one rule for
it (``verdict.py``):

* **Divergence.** Too large a step and the loss blows up: to infinity or NaN (training
  stops at the first non-finite loss or parameter), or, with momentum 1, out to finite
  losses of 10^20 and more. Both count as diverged: a cell is diverged when training
  stopped on a non-finite number or its final loss is above ``verdict.DIVERGED_FACTOR``
  times the initial loss. Those cells are hatched, with the final loss written in them
  when it is finite.
* **The diagonal.** A steady gradient moves the weights by lr / (1 - m) per step (see
  ``momentum.py``), so raising the momentum acts much like raising the learning rate: the
  edge of divergence runs diagonally, and cells with the same effective step
  lr / (1 - m) end up with similar losses (the last panel plots exactly that).
* **Stuck networks.** A step that is large but not divergent can push every ReLU of a
  layer below zero for every sample; no gradient flows back through them again and the
  network predicts a constant. Its loss is then at least the variance of the target,
  Var(y), however long it trains. Those cells are labelled "stuck".
* **The noise floor.** On the lesson's data the true curve 0.3 x^2 has a loss of its own
  (the noise): a cell below it fits noise. The effective-step panel draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..reference.mlp import MLP
from ..run.progress import tqdm
from ..run.train import train
from . import verdict
from .race import FULL_LOSS, VALIDATION_LOSS, loss_evaluator, new_run
from .threads import one_thread
from .verdict import predicts_a_constant

if TYPE_CHECKING:  # only for type hints: matplotlib loads when a figure is drawn
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

DEFAULT_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)  # half a decade apart
DEFAULT_MOMENTA = (0.0, 0.5, 0.9, 0.99, 1.0)
BLOWN_UP = verdict.DIVERGED_FACTOR  # the colour scale stops at this many x the initial loss
__all__ = ["predicts_a_constant"]  # kept here for callers that found it here first


@dataclass
class Cell:
    """One (learning rate, momentum) run."""

    lr: float
    momentum: float
    steps: int  # steps taken (fewer than asked if it diverged)
    final_loss: float  # full-data loss at the end; inf if it stopped being finite
    validation_loss: float | None
    diverged_at: int | None  # the step whose loss or parameters were not finite
    stuck: bool  # the network ended up predicting a constant
    blew_up: bool = False  # finite, but ended above DIVERGED_FACTOR x the initial loss

    @property
    def diverged(self) -> bool:
        """The lab's rule (``verdict.diverged``): stopped on a non-finite number, or blew up."""
        return self.diverged_at is not None or self.blew_up

    @property
    def dead(self) -> bool:  # the earlier name of ``stuck``
        return self.stuck

    @property
    def effective_step(self) -> float:
        return self.lr / (1 - self.momentum) if self.momentum < 1 else math.inf


@dataclass
class GridResult:
    lrs: list[float]
    momenta: list[float]
    cells: list[Cell]  # momentum-major: cells[i * len(lrs) + j] is (momenta[i], lrs[j])
    steps: int
    batch_size: int
    initial_loss: float  # full-data loss of the initial weights, the same for every cell
    target_variance: float = math.nan  # Var(y): the loss of the best constant prediction
    noise_floor: float | None = None  # the true curve's loss (lesson data only)

    @property
    def ceiling(self) -> float:
        """Losses above this count as diverged (``verdict``): the colour scale stops here."""
        return verdict.DIVERGED_FACTOR * self.initial_loss

    def cell(self, momentum_index: int, lr_index: int) -> Cell:
        return self.cells[momentum_index * len(self.lrs) + lr_index]

    def losses(self, validation: bool = False) -> np.ndarray:
        """(momenta, lrs) array of final losses; NaN where the run diverged."""
        values = [
            None if c.diverged else (c.validation_loss if validation else c.final_loss)
            for c in self.cells
        ]
        array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        return array.reshape(len(self.momenta), len(self.lrs))

    @property
    def best(self) -> Cell | None:
        """The cell with the lowest final full-data loss among those that did not diverge."""
        finite = [c for c in self.cells if not c.diverged and math.isfinite(c.final_loss)]
        return min(finite, key=lambda c: c.final_loss) if finite else None


def run_cell(
    lr: float,
    momentum: float,
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: Sequence[int],
    batch_size: int,
    steps: int,
    seed: int = 0,
    dtype: str = "float32",
    sgd_options: dict | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    engine: str = "layers",
    backend: str = "numba",
    initial_loss: float = math.inf,
) -> Cell:
    """Train a fresh MLP with this (lr, momentum) and report its final full-data loss,
    judged against ``initial_loss`` by the lab's divergence rule (``verdict.diverged``)."""
    model, optimizer = new_run(
        lr,
        sizes=sizes,
        momentum=momentum,
        seed=seed,
        dtype=dtype,
        options=sgd_options,
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
        raise KeyboardInterrupt  # stop the whole grid, not just this cell
    if history.diverged_at is not None:
        return Cell(lr, momentum, history.steps, math.inf, None, history.diverged_at, False)
    metrics = loss_evaluator(x, y, x_val, y_val)(model)
    final = metrics[FULL_LOSS]
    if not math.isfinite(final):  # finite parameters, but the loss over all data overflows
        return Cell(lr, momentum, history.steps, math.inf, None, history.steps, False)
    blew_up = verdict.diverged(final, initial_loss)
    stuck = not blew_up and predicts_a_constant(model, x, y)
    return Cell(
        lr, momentum, history.steps, final, metrics.get(VALIDATION_LOSS), None, stuck, blew_up
    )


def lr_momentum_grid(
    lrs: Sequence[float],
    momenta: Sequence[float],
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    steps: int,
    progress: bool = False,
    **settings,
) -> GridResult:
    """``run_cell`` for every (momentum, lr) pair; ``settings`` go to ``run_cell``."""
    initial = MLP(
        settings["sizes"],
        dtype=settings.get("dtype", "float32"),
        seed=settings.get("seed", 0),
        backend=settings.get("backend", "numba"),
    )
    initial_loss = loss_evaluator(x, y)(initial)[FULL_LOSS]
    cells = []
    with (
        one_thread(),  # untimed; the same bits, and no waiting on a busy machine
        tqdm(total=len(lrs) * len(momenta), disable=not progress, desc="lr x momentum") as bar,
    ):
        for momentum in momenta:
            for lr in lrs:
                cells.append(
                    run_cell(
                        lr,
                        momentum,
                        x,
                        y,
                        batch_size=batch_size,
                        steps=steps,
                        initial_loss=initial_loss,
                        **settings,
                    )
                )
                bar.update(1)
    return GridResult(
        list(lrs),
        list(momenta),
        cells,
        steps,
        batch_size,
        initial_loss,
        verdict.target_variance(y),
        verdict.noise_floor(x, y),
    )


def grid_table(result: GridResult) -> str:
    """Final full-data loss: one row per momentum, one column per learning rate."""
    width = 12
    header = f"{'momentum':>8} |" + "".join(f" {f'lr {lr:g}':>{width}}" for lr in result.lrs)
    lines = [header, "-" * len(header)]
    for i, momentum in enumerate(result.momenta):
        row = f"{momentum:>8g} |"
        for j in range(len(result.lrs)):
            cell = result.cell(i, j)
            if cell.diverged:
                text = "diverged"
            else:
                text = f"{cell.final_loss:.4g}" + (" stuck" if cell.stuck else "")
                text = text if len(text) <= width else f"{cell.final_loss:.2g}" + " stuck"
            row += f" {text:>{width}}"
        lines.append(row)
    best = result.best
    floor = result.noise_floor
    lines.append(
        f"initial loss {result.initial_loss:.4g}; {verdict.DIVERGED_RULE} "
        f"(here {result.ceiling:.4g}); {verdict.STUCK_RULE} = {result.target_variance:.4g}"
        + (f"; noise floor (the true curve's loss) {floor:.4g}" if floor is not None else "")
    )
    lines.append(
        f"best: lr {best.lr:g}, momentum {best.momentum:g}, final loss {best.final_loss:.4g}"
        if best
        else "every cell diverged"
    )
    validated = [c for c in result.cells if c.validation_loss is not None and not c.diverged]
    if validated:
        lowest = min(validated, key=lambda c: c.validation_loss)
        lines.append(
            f"lowest validation loss: lr {lowest.lr:g}, momentum {lowest.momentum:g}, "
            f"{lowest.validation_loss:.4g} (full-data loss there {lowest.final_loss:.4g})"
        )
    return "\n".join(lines)


# --- Figure ---------------------------------------------------------------------------------

COLORS = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#d62728", "#8c564b", "#17becf"]


def lr_grid_figure(result: GridResult, path: Path, *, subtitle: str = "") -> Path:
    """Heatmap(s) of final loss (log colour scale; hatched: diverged; red box: best), then
    final loss against the effective step lr / (1 - m)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from .race_plots import save

    with_validation = any(c.validation_loss is not None for c in result.cells)
    maps = [(result.losses(), "Final full-data loss")]
    if with_validation:
        maps.append((result.losses(validation=True), "Final validation loss"))
    panels = len(maps) + 1
    fig, axes = plt.subplots(1, panels, figsize=(5.6 * panels, 5.0), layout="constrained")
    values = np.concatenate([v[np.isfinite(v)] for v, _ in maps])
    low = float(values.min()) if values.size else result.initial_loss
    high = min(float(values.max()), result.ceiling) if values.size else result.ceiling
    norm = LogNorm(vmin=low, vmax=max(high, low * 1.01))
    cmap = plt.get_cmap("viridis_r")
    for ax, (losses, title) in zip(axes, maps, strict=False):
        image = ax.imshow(np.ma.masked_invalid(losses), cmap=cmap, norm=norm, aspect="auto")
        _annotate(ax, result, losses, norm)
        ax.set_title(
            f"{title} after {result.steps} steps of batch {result.batch_size}\n"
            f"(hatched: diverged, non-finite or above {verdict.DIVERGED_FACTOR:g}x the "
            f"initial {result.initial_loss:.3g}; red box: lowest;\n"
            f"stuck: predicts a constant, loss >= Var(y) = {result.target_variance:.3g})",
            fontsize=9,
        )
        fig.colorbar(image, ax=ax, shrink=0.9, label="Final loss (MSE, log colour scale)")
    _effective_step_panel(axes[-1], result)
    title = "Learning rate × momentum: where training works, stalls or diverges"
    fig.suptitle(f"{title}\n{subtitle}" if subtitle else title)
    return save(fig, path)


def _annotate(ax: plt.Axes, result: GridResult, losses: np.ndarray, norm: Normalize) -> None:
    from matplotlib.patches import Rectangle

    ax.set_xticks(range(len(result.lrs)), [f"{lr:g}" for lr in result.lrs], rotation=45)
    ax.set_yticks(range(len(result.momenta)), [f"{m:g}" for m in result.momenta])
    ax.set_xlabel("Learning rate (log grid)")
    ax.set_ylabel("Momentum m")
    # Outline the lowest value of *this* map: on validation loss it is often another cell
    # than on training loss (a step that fits the training data best can overfit).
    best = None
    if np.isfinite(losses).any():
        best = np.unravel_index(
            np.nanargmin(np.where(np.isfinite(losses), losses, np.nan)), losses.shape
        )
    for i in range(len(result.momenta)):
        for j in range(len(result.lrs)):
            cell = result.cell(i, j)
            if cell.diverged:
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5), 1, 1, facecolor="white", hatch="xx", edgecolor="0.6"
                    )
                )
                finite = math.isfinite(cell.final_loss)
                ax.text(
                    j,
                    i,
                    f"diverged\n{cell.final_loss:.2g}" if finite else "diverged",
                    ha="center",
                    va="center",
                    fontsize=7,
                    bbox=dict(facecolor="white", edgecolor="none", pad=1),
                )
                continue
            value = losses[i, j]
            if not math.isfinite(value):
                continue
            text = f"{value:.3g}" + ("\nstuck" if cell.stuck else "")
            dark = norm(value) > 0.6
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7.5,
                color="white" if dark else "black",
            )
            if best == (i, j):
                ax.add_patch(
                    Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5)
                )


def _effective_step_panel(ax: plt.Axes, result: GridResult) -> None:
    """Every cell at x = lr / (1 - m): cells with the same effective step land together.
    Momentum 1 has no finite effective step; it is drawn at its lr, dotted. Diverged cells
    are crosses above the divergence line; the noise floor and Var(y) are marked."""
    ceiling = result.ceiling
    for color, momentum in zip(COLORS * 3, result.momenta, strict=False):
        cells = [c for c in result.cells if c.momentum == momentum]
        infinite = momentum >= 1
        xs = [c.lr if infinite else c.effective_step for c in cells]
        kept = [(x, c.final_loss) for x, c in zip(xs, cells, strict=True) if not c.diverged]
        label = f"m = {momentum:g}" + (
            " (drawn at its lr: lr/(1−m) is infinite)" if infinite else ""
        )
        if kept:
            ax.plot(
                *zip(*kept, strict=True),
                ":" if infinite else "-",
                marker="o",
                color=color,
                label=label,
            )
        diverged = [x for x, c in zip(xs, cells, strict=True) if c.diverged]
        if diverged:
            ax.plot(diverged, [ceiling * 1.5] * len(diverged), "x", color=color, markersize=8)
    ax.axhline(ceiling, color="0.5", linestyle="--", linewidth=1)
    ax.plot([], [], "x", color="0.3", label=f"diverged (drawn above {ceiling:.3g})")
    if math.isfinite(result.target_variance):
        ax.axhline(result.target_variance, color="0.5", linestyle=":", linewidth=1)
        ax.plot([], [], ":", color="0.5", label=f"Var(y) = {result.target_variance:.3g} (stuck)")
    verdict.draw_floor(ax, result.noise_floor)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Effective step lr / (1 − m) (log scale)")
    ax.set_ylabel("Final full-data loss (MSE, log scale)")
    ax.set_title("Same effective step, similar fate", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2)
