"""Final loss over a grid of learning rates and momenta.

Each cell trains a fresh network (the same initial weights and the same batches in every
cell) for the same number of steps with one (lr, momentum) pair, then measures the loss
over all the training data. Four things show up:

* **Divergence.** Too large a step and the loss blows up to infinity or NaN (training
  stops at the first non-finite loss or parameter). Those cells are marked, not plotted
  as numbers.
* **The diagonal.** A steady gradient moves the weights by lr / (1 - m) per step (see
  ``momentum.py``), so raising the momentum acts much like raising the learning rate: the
  edge of divergence runs diagonally, and cells with the same effective step
  lr / (1 - m) end up with similar losses (the last panel plots exactly that).
* **Blow-ups.** Some runs stay finite but end far above where they started (momentum 1
  can fling the weights out to losses of 10^20 and more). The colour scale stops at
  ``BLOWN_UP`` times the initial loss; such cells get the top colour and their value.
* **Dead networks.** A step that is large but not divergent can push every ReLU of a layer
  below zero for every sample; no gradient flows back through them again and the network
  predicts a constant. Its loss is stuck at about the variance of the target. Those cells
  are labelled "dead".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from ..reference.mlp import MLP
from ..reference.sgd import SGD
from ..run.train import train
from .race import FULL_LOSS, VALIDATION_LOSS, loss_evaluator, predict

if TYPE_CHECKING:  # only for type hints: matplotlib loads when a figure is drawn
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

DEFAULT_LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)  # half a decade apart
DEFAULT_MOMENTA = (0.0, 0.5, 0.9, 0.99, 1.0)
DEAD_SPREAD = 1e-6  # predictions whose std is below this share of the target's: constant
BLOWN_UP = 10.0  # a final loss above this many times the initial loss "blew up"


@dataclass
class Cell:
    """One (learning rate, momentum) run."""

    lr: float
    momentum: float
    steps: int  # steps taken (fewer than asked if it diverged)
    final_loss: float  # full-data loss at the end; inf if the run diverged
    validation_loss: float | None
    diverged_at: int | None  # the step whose loss or parameters were not finite
    dead: bool  # the network ended up predicting a constant

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

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

    @property
    def ceiling(self) -> float:
        """Losses above this blew up: the colour scale stops here."""
        return BLOWN_UP * self.initial_loss

    def cell(self, momentum_index: int, lr_index: int) -> Cell:
        return self.cells[momentum_index * len(self.lrs) + lr_index]

    def losses(self, validation: bool = False) -> np.ndarray:
        """(momenta, lrs) array of final losses; NaN where the run diverged."""
        values = [
            (c.validation_loss if validation else c.final_loss) if not c.diverged else None
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
) -> Cell:
    """Train a fresh MLP with this (lr, momentum) and report its final full-data loss."""
    model = MLP(sizes, dtype=dtype, seed=seed, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # momentum 1 is part of the grid on purpose
        optimizer = SGD(model.parameters(), lr=lr, momentum=momentum, **(sgd_options or {}))
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
    dead = predicts_a_constant(model, x, y)
    return Cell(lr, momentum, history.steps, final, metrics.get(VALIDATION_LOSS), None, dead)


def predicts_a_constant(model: MLP, x: np.ndarray, y: np.ndarray) -> bool:
    """True when the predictions over x hardly vary (std below ``DEAD_SPREAD`` times the
    target's): typically every ReLU of some layer is off for every sample."""
    with np.errstate(all="ignore"):  # a run about to diverge may overflow here
        spread = float(np.std(predict(model, x), dtype=np.float64))
    return bool(spread <= DEAD_SPREAD * float(np.std(y, dtype=np.float64)))


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
    with tqdm(total=len(lrs) * len(momenta), disable=not progress, desc="lr x momentum") as bar:
        for momentum in momenta:
            for lr in lrs:
                cells.append(
                    run_cell(lr, momentum, x, y, batch_size=batch_size, steps=steps, **settings)
                )
                bar.update(1)
    return GridResult(list(lrs), list(momenta), cells, steps, batch_size, initial_loss)


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
                text = f"{cell.final_loss:.4g}" + (" dead" if cell.dead else "")
                text = text if len(text) <= width else f"{cell.final_loss:.2g}" + " dead"
            row += f" {text:>{width}}"
        lines.append(row)
    best = result.best
    lines.append(
        f"initial loss {result.initial_loss:.4g}; dead = the network predicts a constant; "
        + (
            f"best: lr {best.lr:g}, momentum {best.momentum:g}, final loss {best.final_loss:.4g}"
            if best
            else "every cell diverged"
        )
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
    fig, axes = plt.subplots(1, panels, figsize=(6.6 * panels, 5.4), layout="constrained")
    values = np.concatenate([v[np.isfinite(v)] for v, _ in maps])
    low = float(values.min()) if values.size else result.initial_loss
    high = min(float(values.max()), result.ceiling) if values.size else result.ceiling
    norm = LogNorm(vmin=low, vmax=max(high, low * 1.01))
    cmap = plt.get_cmap("viridis_r").with_extremes(over="#3b0a45")
    for ax, (losses, title) in zip(axes, maps, strict=False):
        image = ax.imshow(np.ma.masked_invalid(losses), cmap=cmap, norm=norm, aspect="auto")
        _annotate(ax, result, losses, norm)
        ax.set_title(
            f"{title} after {result.steps} steps of batch {result.batch_size}\n"
            "(hatched: diverged; red box: lowest; dead: predicts a constant)",
            fontsize=10,
        )
        fig.colorbar(
            image,
            ax=ax,
            extend="max",
            shrink=0.9,
            label=f"Loss (MSE, log colour scale; top: above {result.ceiling:.3g}, blew up)",
        )
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
                ax.text(
                    j,
                    i,
                    "diverged",
                    ha="center",
                    va="center",
                    fontsize=7,
                    bbox=dict(facecolor="white", edgecolor="none", pad=1),
                )
                continue
            value = losses[i, j]
            if not math.isfinite(value):
                continue
            text = f"{value:.3g}" + ("\ndead" if cell.dead else "")
            dark = value > result.ceiling or norm(value) > 0.6
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
    Momentum 1 has no finite effective step; it is drawn at its lr, dotted."""
    ceiling = result.ceiling
    for color, momentum in zip(COLORS * 3, result.momenta, strict=False):
        cells = [c for c in result.cells if c.momentum == momentum]
        infinite = momentum >= 1
        xs = [c.lr if infinite else c.effective_step for c in cells]
        ys = [min(c.final_loss, ceiling) for c in cells]
        kept = [(x, y) for x, y, c in zip(xs, ys, cells, strict=True) if not c.diverged]
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
        blown = [
            (x, y)
            for x, y, c in zip(xs, ys, cells, strict=True)
            if not c.diverged and c.final_loss > ceiling
        ]
        if blown:
            ax.plot(*zip(*blown, strict=True), "^", color=color, markersize=9)
        diverged = [x for x, c in zip(xs, cells, strict=True) if c.diverged]
        if diverged:
            ax.plot(diverged, [ceiling * 2] * len(diverged), "x", color=color, markersize=8)
    ax.axhline(ceiling, color="0.5", linestyle="--", linewidth=1)
    ax.plot([], [], "^", color="0.3", label=f"blew up (drawn at {ceiling:.3g})")
    ax.plot([], [], "x", color="0.3", label="diverged (drawn above the line)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Effective step lr / (1 − m) (log scale)")
    ax.set_ylabel("Final full-data loss (MSE, log scale)")
    ax.set_title("Same effective step, similar fate", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2)
