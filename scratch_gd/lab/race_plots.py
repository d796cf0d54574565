"""Figures of a comparison: the lesson's own plots, and the ones that tell the real story."""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no window, works on a machine without a screen
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from ..store.datasets import Dataset
from ..store.files import atomic_write_bytes
from . import verdict
from .race import VALIDATION_LOSS, RegimeResult, fits_input, number_text, predictions_input

# Real data is standardised before training, so the losses in legends are in those units.
STANDARDISED_LOSSES = "losses: MSE of the standardised target"
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
LESSON_YLIM = 15.0  # the lesson's figures show losses from 0 to 15
DPI = 100


def png_bytes(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes, in memory; the figure is closed."""
    buffer = io.BytesIO()
    # A figure with a layout (constrained, or the fixed margins of ``place``) is already
    # fitted; "tight" would draw it twice to measure it.
    tight = "tight" if fig.get_layout_engine() is None else None
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches=tight)
    plt.close(fig)
    return buffer.getvalue()


def save(fig: plt.Figure, path: Path) -> Path:
    """Render to memory, then write atomically: a killed run leaves no half-written PNG."""
    return atomic_write_bytes(path, png_bytes(fig))


# --- Fixed layouts ---------------------------------------------------------------------------
# A constrained layout measures every label by drawing the figure once before drawing it
# for real: for compare's figures that was half their time. Their margins are fixed here
# instead, and their log axes are labelled in plain text rather than mathtext.


def place(
    fig: plt.Figure,
    *,
    left: float = 0.75,
    right: float = 0.2,
    top: float = 0.45,
    bottom: float = 0.6,
    wspace: float | None = None,
) -> None:
    """Fixed margins around the axes, in inches: the same look at any figure size."""
    fig.set_layout_engine(PlaceHolderLayoutEngine(adjust_compatible=True, colorbar_gridspec=True))
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=wspace,
    )


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def log_label(value: float, position: int | None = None) -> str:
    """A log axis's label in plain text: 0.01, 0.1, 1, 10, 100, then 10³, 10⁴ and 10⁻³..."""
    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    if -2 <= exponent <= 2 or not math.isclose(value, 10.0**exponent):
        return f"{value:g}"
    return "10" + str(exponent).translate(SUPERSCRIPT)


class MinorLogLabels(ticker.Formatter):
    """Labels the minor ticks (2 and 5 of each decade) only on a log axis too short to
    show two powers of ten."""

    def __call__(self, value: float, position: int | None = None) -> str:
        low, high = sorted(self.axis.get_view_interval())
        if low <= 0 or value <= 0 or math.log10(high / low) >= 1.2:
            return ""
        return f"{value:g}"


def set_title(ax: plt.Axes, text: str, **style: object) -> None:
    """``ax.set_title`` at a fixed height, just above the axes (none here has top labels)."""
    # An automatic height is found by measuring every tick label: a third of a figure's time.
    ax.set_title(text, y=1.0, **style)


def log_scale(axis: matplotlib.axis.Axis) -> None:
    """Put ``axis`` (``ax.xaxis`` or ``ax.yaxis``) on a log scale with plain-text labels."""
    if axis is axis.axes.xaxis:
        axis.axes.set_xscale("log")
    else:
        axis.axes.set_yscale("log")
    axis.set_major_formatter(ticker.FuncFormatter(log_label))
    axis.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))  # 2 and 5: enough to read by
    axis.set_minor_formatter(MinorLogLabels())


def warm_up() -> None:
    """Render a small figure with text and a log axis once, so matplotlib has read its
    fonts before the first real figure (the painter's workers do this while waiting)."""
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([1, 10], [1, 100], label="warm-up")
    log_scale(ax.yaxis)
    set_title(ax, "warm-up")
    ax.legend()
    place(fig)
    png_bytes(fig)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each full run of ``window`` values: entry k averages values[k : k + window]."""
    window = max(1, min(window, len(values)))
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    return (cumulative[window:] - cumulative[:-window]) / window


def label(result: RegimeResult) -> str:
    return f"{result.name}: batch {result.history.batch_size}, momentum {result.config.momentum:g}"


def clipped_note(losses: np.ndarray, limit: float = LESSON_YLIM) -> str | None:
    """What a 0..limit axis hides: how many losses lie above it, and the largest."""
    above = losses[losses > limit]
    if not len(above):
        return None
    return (
        f"{len(above)} of {len(losses)} losses above {limit:g} are cut off "
        f"(largest {number_text(float(above.max()), 1)})"
    )


def lesson_figure(result: RegimeResult, *, floor: float | None = None) -> plt.Figure:
    """The lesson's plot, faithfully: batch loss per step, y from 0 to 15 (what it cuts
    off is said on the figure), with the noise floor of the lesson's data."""
    fig, ax = plt.subplots(figsize=(6, 4.4))
    history = result.history
    ax.plot(np.arange(1, history.steps + 1), history.loss, color=COLORS[0], linewidth=0.8)
    ax.set_ylim(0, LESSON_YLIM)
    ax.set_xlabel("Step (the lesson's 'Epoch': one update)")
    ax.set_ylabel("Loss (MSE of the batch)")
    note = clipped_note(history.loss)
    title = f"{label(result)}, lr {result.config.lr:g}"
    if note:
        title += f"\nthe lesson's 0..15 axis: {note}"
    set_title(ax, title, fontsize=9)
    ax.grid(alpha=0.3)
    verdict.draw_floor(ax, floor)
    if history.diverged_at is not None:
        ax.axvline(history.diverged_at + 1, color="black", linestyle=":", label="diverged")
    entries = (floor is not None) + (history.diverged_at is not None)
    if entries:
        fig.legend(loc="lower center", fontsize=8)
    place(fig, left=0.6, top=0.5 if note else 0.35, bottom=0.55 + 0.2 * entries)
    return fig


def steps_title(results: list[RegimeResult]) -> str:
    """What the per-step figure can say from its data: each regime's full-data loss after
    its last step, and which is lowest (no winner is assumed)."""
    finals = [(r.name, float(r.full_loss)) for r in results if np.isfinite(r.full_loss)]
    text = "Loss per step (a step of batch B reads B samples)"
    if finals:
        lowest = min(finals, key=lambda item: item[1])
        listed = ", ".join(f"{name} {loss:.3g}" for name, loss in finals)
        text += f"\nfull-data loss after the last step: {listed}; lowest: {lowest[0]}"
    return text


def _evaluation_xs(result: RegimeResult, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """The validation losses measured during training, and where they go on ``axis``.

    The evaluation before the first step is left out: it has no place on a log axis.
    """
    evaluations = [
        e for e in result.history.evaluations if e.step > 0 and VALIDATION_LOSS in e.metrics
    ]
    xs = {
        "steps": [e.step for e in evaluations],
        "samples": [e.samples_seen for e in evaluations],
        "seconds": [e.seconds for e in evaluations],
    }[axis]
    return np.array(xs, dtype=float), np.array([e.metrics[VALIDATION_LOSS] for e in evaluations])


def _loss_curves(
    ax: plt.Axes, results: list[RegimeResult], axis: str, floor: float | None = None
) -> bool:
    """The moving average of each regime's batch loss; the raw per-step values of batch 1
    span decades and would hide everything else (the lesson-style figures show them).
    With held-out data, each regime's validation loss is the dashed line of its colour."""
    validated = False
    for color, result in zip(COLORS, results, strict=False):
        history = result.history
        if history.steps == 0:
            continue
        xs = {
            "steps": np.arange(1, history.steps + 1),
            "samples": history.samples_seen,
            "seconds": history.seconds,
        }[axis]
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
        eval_xs, validation = _evaluation_xs(result, axis)
        if len(eval_xs):
            validated = True
            ax.plot(
                eval_xs,
                validation,
                color=color,
                linewidth=1.4,
                linestyle="--",
                label=f"{result.name}: validation loss (held-out data)",
            )
    verdict.draw_floor(ax, floor)
    log_scale(ax.yaxis)
    ax.grid(alpha=0.3, which="both")
    if validated:
        ax.set_ylabel("Loss (MSE, log scale)\nbatch loss averaged, validation dashed")
        # Twice the entries: below the axes, where they cover no curve.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    else:
        ax.set_ylabel("Batch loss (MSE, moving average, log scale)")
        ax.legend(fontsize=8, loc="lower left")  # the curves start high and fall
    return validated


def overlay_figure(results: list[RegimeResult], *, floor: float | None = None) -> plt.Figure:
    """All regimes against steps, what the lesson compares, raw: no averaging.

    Left, the lesson's own view: every batch loss on a linear axis cut at 15 (what is cut
    off is said). Right, the same losses on a log axis, where batch 1's spikes (a single
    sample can be lucky or unlucky by orders of magnitude) show in full.
    """
    fig, (lesson_ax, log_ax) = plt.subplots(1, 2, figsize=(11, 5))
    notes = []
    for color, result in zip(COLORS, results, strict=False):
        history = result.history
        if history.steps == 0:
            continue
        steps = np.arange(1, history.steps + 1)
        name = label(result)
        # Batch 1 as single points, underneath: a line through them would fill the area in.
        single = history.batch_size == 1
        style = dict(marker=".", linestyle="none", markersize=2, alpha=0.5) if single else {}
        for ax in (lesson_ax, log_ax):
            ax.plot(steps, history.loss, color=color, linewidth=1.1, zorder=1 if single else 2 + history.batch_size / history.n_samples,
                    label=name if ax is lesson_ax else None, **style)  # fmt: skip
        if history.diverged_at is not None:
            log_ax.plot(steps[-1], history.loss[-1], "x", color=color, markersize=10)
            notes.append(f"{result.name} diverged at step {history.diverged_at + 1}")
        note = clipped_note(history.loss)
        if note:
            notes.append(f"{result.name}: {note}")
    for ax in (lesson_ax, log_ax):
        verdict.draw_floor(ax, floor, label=ax is lesson_ax)
        ax.set_xlabel("Step (one parameter update; the lesson's 'Epoch')")
        ax.grid(alpha=0.3, which="both")
    lesson_ax.set_ylim(0, LESSON_YLIM)
    lesson_ax.set_ylabel("Batch loss (MSE of the step's own batch)")
    set_title(lesson_ax, "The lesson's view: linear axis cut at 15", fontsize=10)
    if notes:
        lesson_ax.text(0.98, 0.97, "\n".join(notes), transform=lesson_ax.transAxes,
                       ha="right", va="top", fontsize=7.5,
                       bbox=dict(facecolor="white", edgecolor="0.7", alpha=0.9))  # fmt: skip
    log_scale(log_ax.yaxis)
    log_ax.set_ylabel("Batch loss (log scale)")
    set_title(log_ax, "Every batch loss, log scale: batch 1's spikes in full", fontsize=10)
    legend = fig.legend(loc="lower center", ncol=2, fontsize=8, markerscale=4)
    title = steps_title(results)
    fig.suptitle(title, fontsize=10)
    rows = math.ceil(len(legend.get_texts()) / 2)
    place(fig, left=0.7, top=0.35 + 0.17 * title.count("\n") + 0.2, bottom=0.55 + 0.19 * rows,
          wspace=0.22)  # fmt: skip
    return fig


def samples_figure(results: list[RegimeResult], *, floor: float | None = None) -> plt.Figure:
    """All regimes against samples seen: the cost in data, on a log axis."""
    fig, ax = plt.subplots(figsize=(8, 5))
    validated = _loss_curves(ax, results, "samples", floor)
    log_scale(ax.xaxis)
    ax.set_xlabel("Samples seen (count, log scale)")
    set_title(ax, "Batch loss against data used (samples seen)")
    _place_loss_figure(fig, ax, validated)
    return fig


def time_figure(results: list[RegimeResult], *, floor: float | None = None) -> plt.Figure:
    """All regimes against wall-clock time: the cost that a user actually waits for."""
    fig, ax = plt.subplots(figsize=(8, 5))
    validated = _loss_curves(ax, results, "seconds", floor)
    log_scale(ax.xaxis)
    ax.set_xlabel("Wall-clock time (seconds, log scale; varies from run to run)")
    set_title(ax, "Batch loss against training time")
    _place_loss_figure(fig, ax, validated)
    return fig


def _place_loss_figure(fig: plt.Figure, ax: plt.Axes, validated: bool) -> None:
    if not validated:
        place(fig, left=0.7)
        return
    # The legend sits below the axes, two entries a row: a wider, taller figure.
    rows = math.ceil(len(ax.get_legend().get_texts()) / 2)
    fig.set_size_inches(10, 6.5)
    place(fig, left=0.95, bottom=0.75 + 0.19 * rows)


def fits_figure(
    results: list[RegimeResult], dataset: Dataset, predictions: list[np.ndarray]
) -> plt.Figure:
    """Each trained network's curve over the data (one input only), in the data's own units.

    ``predictions`` are each network's outputs on the training inputs sorted (``fits_input``),
    computed where the networks are. For the lesson's data the true parabola is drawn too.
    """
    if dataset.n_features != 1:
        raise ValueError(f"a fits figure needs one input column, got {dataset.n_features}")
    x_scale, x_shift = float(dataset.x_std[0]), float(dataset.x_mean[0])
    fig, ax = plt.subplots(figsize=(8, 5))
    x, y = dataset.x_train, dataset.y_train
    grid_units = fits_input(dataset)[:, 0] * x_scale + x_shift
    ax.scatter(
        x[:, 0] * x_scale + x_shift,
        dataset.original_target(y[:, 0]),
        s=4,
        color="0.7",
        label="training data" if dataset.name != "lesson" else "data: y = 0.3 x² + noise",
    )
    if dataset.x_val is not None and dataset.y_val is not None:
        ax.scatter(
            dataset.x_val[:, 0] * x_scale + x_shift,
            dataset.original_target(dataset.y_val[:, 0]),
            s=8,
            marker="^",
            color="0.35",
            label="validation data (held out)",
        )
    if dataset.name == "lesson":
        floor = verdict.dataset_noise_floor(dataset)
        ax.plot(grid_units, 0.3 * grid_units**2, "k--", linewidth=1.2,
                label=f"true curve 0.3 x² (full-data loss {floor:.3f}: the noise floor)")  # fmt: skip
    for color, result, predicted in zip(COLORS, results, predictions, strict=False):
        ax.plot(
            grid_units,
            dataset.original_target(predicted[:, 0]),
            color=color,
            linewidth=2,
            label=f"{label(result)} ({_losses(result)})",
        )
    ax.set_xlabel(f"{dataset.feature_names[0]} (input)")
    ax.set_ylabel(f"{dataset.target_name} (target and prediction)")
    ax.grid(alpha=0.3)
    if dataset.name == "lesson":
        set_title(ax, "What each regime learned")
        ax.legend(fontsize=8)
        place(fig, left=0.7)
    else:
        set_title(ax, f"What each regime learned\n({STANDARDISED_LOSSES})", fontsize=10)
        # Off the data, below the axes.
        legend = ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12))
        place(fig, left=0.7, top=0.55, bottom=0.7 + 0.16 * len(legend.get_texts()))
    return fig


def _losses(result: RegimeResult) -> str:
    text = f"full-data loss {result.full_loss:.3g}"
    if result.validation_loss is not None:
        text += f", validation {result.validation_loss:.3g}"
    return text


def predictions_figure(
    results: list[RegimeResult], dataset: Dataset, predictions: list[np.ndarray]
) -> plt.Figure:
    """Predicted against true target, in the target's own units: for inputs of any width.

    Drawn on the validation data when some was held out (what the model never trained
    on), else on the training data (``predictions_input``; ``predictions`` are each
    network's outputs there). A perfect model puts every point on the diagonal.
    """
    _, y, held_out = predictions_input(dataset)
    true = dataset.original_target(y[:, 0])
    fig, ax = plt.subplots(figsize=(6.5, 6))
    for color, result, predicted in zip(COLORS, results, predictions, strict=False):
        ax.scatter(
            true,
            dataset.original_target(predicted[:, 0]),
            s=10,
            alpha=0.6,
            color=color,
            label=f"{label(result)} ({_losses(result)})",
        )
    low, high = float(true.min()), float(true.max())
    ax.plot([low, high], [low, high], "k--", linewidth=1.2, label="perfect prediction")
    ax.axhline(float(dataset.y_mean[0]), color="0.5", linestyle=":", label="the training mean")
    part = f"{len(true)} held-out samples" if held_out else f"{len(true)} training samples"
    ax.set_xlabel(f"True {dataset.target_name} (original units)")
    ax.set_ylabel(f"Predicted {dataset.target_name} (original units)")
    data = f"{dataset.name}: {dataset.n_features} features -> {dataset.target_name}"
    set_title(ax, f"Predicted against true, {part}\n({data}; {STANDARDISED_LOSSES})", fontsize=9)
    ax.grid(alpha=0.3)
    legend = ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))  # off the points
    place(fig, left=0.75, top=0.55, bottom=0.65 + 0.15 * len(legend.get_texts()))
    return fig
