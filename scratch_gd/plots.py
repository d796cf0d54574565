"""Figures of a comparison: the lesson's own plots, and the ones that tell the real story."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no window, works on a machine without a screen
import matplotlib.pyplot as plt
import numpy as np

from .compare import RegimeResult
from .files import atomic_write

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def save(fig: plt.Figure, path: Path) -> Path:
    """Render to memory, then write atomically: a killed run leaves no half-written PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()))


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each full run of ``window`` values: entry k averages values[k : k + window]."""
    window = max(1, min(window, len(values)))
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    return (cumulative[window:] - cumulative[:-window]) / window


def label(result: RegimeResult) -> str:
    return f"{result.name}: batch {result.history.batch_size}, momentum {result.config.momentum:g}"


def lesson_figure(result: RegimeResult, path: Path) -> Path:
    """The lesson's plot, faithfully: batch loss per step, y from 0 to 15."""
    fig, ax = plt.subplots(figsize=(6, 4))
    history = result.history
    ax.plot(np.arange(1, history.steps + 1), history.loss, color=COLORS[0], linewidth=0.8)
    ax.set_ylim(0, 15)
    ax.set_xlabel("Step (the lesson's 'Epoch': one update)")
    ax.set_ylabel("Loss (MSE of the batch)")
    ax.set_title(f"{label(result)}, lr {result.config.lr:g}")
    ax.grid(alpha=0.3)
    if history.diverged_at is not None:
        ax.axvline(history.diverged_at + 1, color="black", linestyle=":", label="diverged")
        ax.legend()
    return save(fig, path)


def _loss_curves(ax: plt.Axes, results: list[RegimeResult], x_of) -> None:
    """The moving average of each regime's batch loss; the raw per-step values of batch 1
    span decades and would hide everything else (the lesson-style figures show them)."""
    for color, result in zip(COLORS, results, strict=False):
        history = result.history
        if history.steps == 0:
            continue
        xs = x_of(history)
        window = max(1, history.steps // 50)
        # Each average is drawn at the last step it covers, so nothing is shown early.
        ax.plot(
            xs[window - 1 :],
            moving_average(history.loss, window),
            color=color,
            linewidth=1.8,
            label=f"{label(result)} (mean of {window} steps)",
        )
        if history.diverged_at is not None:
            ax.plot(
                xs[-1],
                history.loss[-1],
                "x",
                color=color,
                markersize=10,
                label=f"{result.name} diverged at step {history.diverged_at + 1}",
            )
    ax.set_yscale("log")
    ax.set_ylabel("Batch loss (MSE, moving average, log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def overlay_figure(results: list[RegimeResult], path: Path) -> Path:
    """All regimes against steps: what the lesson compares."""
    fig, ax = plt.subplots(figsize=(8, 5))
    _loss_curves(ax, results, lambda h: np.arange(1, h.steps + 1))
    ax.set_xlabel("Step (one parameter update)")
    ax.set_title("Loss per step: full batch looks best, but its steps cost the most")
    return save(fig, path)


def samples_figure(results: list[RegimeResult], path: Path) -> Path:
    """All regimes against samples seen: the cost in data, on a log axis."""
    fig, ax = plt.subplots(figsize=(8, 5))
    _loss_curves(ax, results, lambda h: h.samples_seen)
    ax.set_xscale("log")
    ax.set_xlabel("Samples seen (count, log scale)")
    ax.set_title("Loss against data used: small batches learn more per sample")
    return save(fig, path)


def time_figure(results: list[RegimeResult], path: Path) -> Path:
    """All regimes against wall-clock time: the cost that a user actually waits for."""
    fig, ax = plt.subplots(figsize=(8, 5))
    _loss_curves(ax, results, lambda h: h.seconds)
    ax.set_xscale("log")
    ax.set_xlabel("Wall-clock time (seconds, log scale)")
    ax.set_title("Loss against time")
    return save(fig, path)


def fits_figure(results: list[RegimeResult], x: np.ndarray, y: np.ndarray, path: Path) -> Path:
    """Each trained network's curve over the data, beside the true parabola."""
    fig, ax = plt.subplots(figsize=(8, 5))
    order = np.argsort(x[:, 0])
    grid = x[order]
    ax.scatter(x[:, 0], y[:, 0], s=4, color="0.7", label="data: y = 0.3 x² + noise")
    ax.plot(grid[:, 0], 0.3 * grid[:, 0] ** 2, "k--", linewidth=1.2, label="true curve 0.3 x²")
    for color, result in zip(COLORS, results, strict=False):
        ax.plot(
            grid[:, 0],
            result.model(grid)[:, 0],
            color=color,
            linewidth=2,
            label=f"{label(result)} (full-data loss {result.full_loss:.2f})",
        )
    ax.set_xlabel("x (input)")
    ax.set_ylabel("y (target and prediction)")
    ax.set_title("What each regime learned")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def slug(name: str) -> str:
    """'Minibatch (128)' -> 'minibatch128': a file-name-safe form of a regime name."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def write_compare_figures(
    results: list[RegimeResult], x: np.ndarray, y: np.ndarray, out: Path
) -> list[Path]:
    """Every figure of a comparison, into ``out``; returns the paths written."""
    paths, used = [], set()
    for index, result in enumerate(results):
        name = slug(result.name)
        name = f"{name}_{index + 1}" if name in used else name  # two regimes, same batch
        used.add(name)
        paths.append(lesson_figure(result, out / f"lesson_{name}.png"))
    paths.append(overlay_figure(results, out / "compare_steps.png"))
    paths.append(samples_figure(results, out / "compare_samples.png"))
    paths.append(time_figure(results, out / "compare_time.png"))
    paths.append(fits_figure(results, x, y, out / "compare_fits.png"))
    return paths
