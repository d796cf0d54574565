"""``compare --animate``: watch the three regimes learn the parabola, frame by frame.

A ``Film`` records, at each full-data evaluation of a race (``run_regime(watch=...)``, with
the training clock paused), what the network predicts on a fixed grid of inputs. Nothing
is trained twice: the frames are the very runs ``compare`` reports. ``Film.write`` then
draws one frame per evaluation (the data, the true curve 0.3 x² for the lesson's data, and
each regime's current curve with its full-data loss) and saves them as a GIF with
matplotlib's animation writer (``PillowWriter``; Pillow comes with matplotlib).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..reference.mlp import MLP
from ..store.datasets import Dataset
from ..store.files import atomic_write_bytes
from .race import FULL_LOSS, RegimeResult, predict

FRAMES = 40  # evaluations per regime the film aims for (plus the one before the first step)
GRID_POINTS = 150  # inputs the curves are drawn through
FPS = 8
HOLD_SECONDS = 2.0  # the last frame stays this long before the GIF loops
SIZE_INCHES = (6.4, 4.0)
DPI = 90


def film_every(steps: int, frames: int = FRAMES) -> int:
    """Steps between two frames: about ``frames`` frames per run, at least one step apart.

    A run of ``steps`` steps gives ``steps // every + 1`` frames (the start included), so
    1000 steps give 41 frames, 60 steps 31; fewer than ``frames`` steps give one per step.
    """
    return max(1, math.ceil(steps / frames))


class Film:
    """Each regime's predictions on a grid of inputs, at every evaluation of its run.

    ``take()`` gives the ``watch`` callback for one regime's ``run_regime``; call it once
    per regime, in the order of the results later given to ``write``.
    """

    def __init__(self, dataset: Dataset, points: int = GRID_POINTS) -> None:
        if dataset.n_features != 1:
            raise ValueError(
                f"a film of fitted curves needs one input column, got {dataset.n_features}"
            )
        self.dataset = dataset
        x = dataset.x_train[:, 0]
        self.grid = np.linspace(x.min(), x.max(), points, dtype=x.dtype)[:, None]
        self.takes: list[list[np.ndarray]] = []

    def every(self, steps: int) -> int:
        return film_every(steps)

    def take(self) -> Callable[[MLP], None]:
        frames: list[np.ndarray] = []
        self.takes.append(frames)

        def watch(model: MLP) -> None:
            with np.errstate(all="ignore"):  # a diverging run may overflow: drawn as it is
                prediction = predict(model, self.grid)[:, 0].astype(np.float64)
            frames.append(self.dataset.original_target(prediction))

        return watch

    def write(self, results: Sequence[RegimeResult], path: Path) -> Path:
        """Draw the film of ``results`` (the runs the takes watched) into the GIF ``path``."""
        if len(results) != len(self.takes):
            raise ValueError(f"{len(results)} results for {len(self.takes)} takes; one each")
        return film_gif(self, results, path)


def _units(dataset: Dataset, x: np.ndarray) -> np.ndarray:
    return x * float(dataset.x_std[0]) + float(dataset.x_mean[0])


def film_gif(film: Film, results: Sequence[RegimeResult], path: Path) -> Path:
    """One frame per evaluation step; each regime shows its latest curve at that step."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    from .race_plots import COLORS, label

    dataset = film.dataset
    # Every regime is evaluated at the same steps; a run that stopped early (diverged or
    # interrupted) has fewer, and keeps showing its last curve.
    steps_of = [[e.step for e in result.history.evaluations] for result in results]
    losses_of = [[e.metrics[FULL_LOSS] for e in result.history.evaluations] for result in results]
    frame_steps = max(steps_of, key=len)
    if len(frame_steps) < 2:
        raise ValueError("a film needs at least two evaluations per run")
    total = max(result.history.steps for result in results)
    grid = _units(dataset, film.grid[:, 0].astype(np.float64))
    x = _units(dataset, dataset.x_train[:, 0].astype(np.float64))
    y = dataset.original_target(dataset.y_train[:, 0].astype(np.float64))

    fig, ax = plt.subplots(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    lesson = dataset.name == "lesson"
    ax.scatter(x, y, s=2, color="0.75", label="data: y = 0.3 x² + noise" if lesson else "data")
    if lesson:
        ax.plot(grid, 0.3 * grid**2, "k--", linewidth=1.2, label="true curve 0.3 x²")
    low, high = np.percentile(y, [0.5, 99.5])
    margin = 0.15 * (high - low)
    # Room above the data for the legend; curves that leave this range are clipped.
    ax.set_ylim(low - margin, high + 3 * margin)
    ax.set_xlabel(f"{dataset.feature_names[0]} (input)")
    ax.set_ylabel(f"{dataset.target_name} (target and prediction)")
    ax.grid(alpha=0.3)
    lines = [
        ax.plot(grid, take[0], color=color, linewidth=2, label=label(result))[0]
        for color, take, result in zip(COLORS, film.takes, results, strict=False)
    ]
    legend = ax.legend(fontsize=7, loc="upper center")
    regime_texts = legend.get_texts()[-len(lines) :]
    title = ax.set_title("", fontsize=9)

    def draw(frame: int) -> None:
        step = frame_steps[frame]
        title.set_text(
            f"What each regime has learned after {step} of {total} steps\n"
            f"(legend: full-data loss now; lr {results[0].config.lr:g})"
        )
        for line, text, take, steps, losses, result in zip(
            lines, regime_texts, film.takes, steps_of, losses_of, results, strict=True
        ):
            shown = min(np.searchsorted(steps, step, side="right"), len(take)) - 1
            line.set_ydata(take[shown])
            note = "" if steps[shown] == step else f", stopped at step {steps[shown]}"
            text.set_text(f"{label(result)}: loss {losses[shown]:.3g}{note}")

    hold = [len(frame_steps) - 1] * int(HOLD_SECONDS * FPS)
    animation = FuncAnimation(fig, draw, frames=[*range(len(frame_steps)), *hold])
    # The writer wants a file name; render into a private folder, then move the bytes into
    # place atomically so a killed run never leaves half a GIF at ``path``.
    with tempfile.TemporaryDirectory() as folder:
        draft = Path(folder) / "film.gif"
        animation.save(draft, writer=PillowWriter(fps=FPS), dpi=DPI)
        data = draft.read_bytes()
    plt.close(fig)
    return atomic_write_bytes(path, data)
