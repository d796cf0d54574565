"""Figures of a comparison: the lesson's own plots, and the ones that tell the real story."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no window, works on a machine without a screen
import matplotlib.pyplot as plt
import numpy as np

from ..store.datasets import Dataset
from ..store.files import atomic_write
from . import verdict
from .race import VALIDATION_LOSS, RegimeResult, number_text

# Real data is standardised before training, so the losses in legends are in those units.
STANDARDISED_LOSSES = "losses: MSE of the standardised target"
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
LESSON_YLIM = 15.0  # the lesson's figures show losses from 0 to 15
DPI = 100


def save(fig: plt.Figure, path: Path) -> Path:
    """Render to memory, then write atomically: a killed run leaves no half-written PNG."""
    buffer = io.BytesIO()
    # A constrained layout already fits everything in; "tight" would draw the figure twice.
    tight = "tight" if fig.get_layout_engine() is None else None
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches=tight)
    plt.close(fig)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()))


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


def lesson_figure(result: RegimeResult, path: Path, *, floor: float | None = None) -> Path:
    """The lesson's plot, faithfully: batch loss per step, y from 0 to 15 (what it cuts
    off is said on the figure), with the noise floor of the lesson's data."""
    fig, ax = plt.subplots(figsize=(6, 4.4), layout="constrained")
    history = result.history
    ax.plot(np.arange(1, history.steps + 1), history.loss, color=COLORS[0], linewidth=0.8)
    ax.set_ylim(0, LESSON_YLIM)
    ax.set_xlabel("Step (the lesson's 'Epoch': one update)")
    ax.set_ylabel("Loss (MSE of the batch)")
    note = clipped_note(history.loss)
    title = f"{label(result)}, lr {result.config.lr:g}"
    if note:
        title += f"\nthe lesson's 0..15 axis: {note}"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    verdict.draw_floor(ax, floor)
    if history.diverged_at is not None:
        ax.axvline(history.diverged_at + 1, color="black", linestyle=":", label="diverged")
    if floor is not None or history.diverged_at is not None:
        fig.legend(loc="outside lower center", fontsize=8)
    return save(fig, path)


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
) -> None:
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
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    if validated:
        ax.set_ylabel("Loss (MSE, log scale): batch loss averaged, validation dashed")
        # Twice the entries: below the axes, where they cover no curve.
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    else:
        ax.set_ylabel("Batch loss (MSE, moving average, log scale)")
        ax.legend(fontsize=8, loc="lower left")  # the curves start high and fall


def overlay_figure(results: list[RegimeResult], path: Path, *, floor: float | None = None) -> Path:
    """All regimes against steps, what the lesson compares, raw: no averaging.

    Left, the lesson's own view: every batch loss on a linear axis cut at 15 (what is cut
    off is said). Right, the same losses on a log axis, where batch 1's spikes (a single
    sample can be lucky or unlucky by orders of magnitude) show in full.
    """
    fig, (lesson_ax, log_ax) = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
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
    lesson_ax.set_title("The lesson's view: linear axis cut at 15", fontsize=10)
    if notes:
        lesson_ax.text(0.98, 0.97, "\n".join(notes), transform=lesson_ax.transAxes,
                       ha="right", va="top", fontsize=7.5,
                       bbox=dict(facecolor="white", edgecolor="0.7", alpha=0.9))  # fmt: skip
    log_ax.set_yscale("log")
    log_ax.set_ylabel("Batch loss (log scale)")
    log_ax.set_title("Every batch loss, log scale: batch 1's spikes in full", fontsize=10)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8, markerscale=4)
    fig.suptitle(steps_title(results), fontsize=10)
    return save(fig, path)


def samples_figure(results: list[RegimeResult], path: Path, *, floor: float | None = None) -> Path:
    """All regimes against samples seen: the cost in data, on a log axis."""
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    _loss_curves(ax, results, "samples", floor)
    ax.set_xscale("log")
    ax.set_xlabel("Samples seen (count, log scale)")
    ax.set_title("Batch loss against data used (samples seen)")
    return save(fig, path)


def time_figure(results: list[RegimeResult], path: Path, *, floor: float | None = None) -> Path:
    """All regimes against wall-clock time: the cost that a user actually waits for."""
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    _loss_curves(ax, results, "seconds", floor)
    ax.set_xscale("log")
    ax.set_xlabel("Wall-clock time (seconds, log scale; varies from run to run)")
    ax.set_title("Batch loss against training time")
    return save(fig, path)


def fits_figure(results: list[RegimeResult], dataset: Dataset, path: Path) -> Path:
    """Each trained network's curve over the data (one input only), in the data's own units.

    For the lesson's data the true parabola is drawn too.
    """
    if dataset.n_features != 1:
        raise ValueError(f"a fits figure needs one input column, got {dataset.n_features}")
    x_scale, x_shift = float(dataset.x_std[0]), float(dataset.x_mean[0])
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    x, y = dataset.x_train, dataset.y_train
    order = np.argsort(x[:, 0])
    grid = x[order]
    grid_units = grid[:, 0] * x_scale + x_shift
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
    for color, result in zip(COLORS, results, strict=False):
        ax.plot(
            grid_units,
            dataset.original_target(result.model(grid)[:, 0]),
            color=color,
            linewidth=2,
            label=f"{label(result)} ({_losses(result)})",
        )
    ax.set_xlabel(f"{dataset.feature_names[0]} (input)")
    ax.set_ylabel(f"{dataset.target_name} (target and prediction)")
    ax.grid(alpha=0.3)
    if dataset.name == "lesson":
        ax.set_title("What each regime learned")
        ax.legend(fontsize=8)
    else:
        ax.set_title(f"What each regime learned\n({STANDARDISED_LOSSES})", fontsize=10)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12))  # off the data
    return save(fig, path)


def _losses(result: RegimeResult) -> str:
    text = f"full-data loss {result.full_loss:.3g}"
    if result.validation_loss is not None:
        text += f", validation {result.validation_loss:.3g}"
    return text


def predictions_figure(results: list[RegimeResult], dataset: Dataset, path: Path) -> Path:
    """Predicted against true target, in the target's own units: for inputs of any width.

    Drawn on the validation data when some was held out (what the model never trained
    on), else on the training data. A perfect model puts every point on the diagonal.
    """
    held_out = dataset.x_val is not None and dataset.y_val is not None
    x, y = (dataset.x_val, dataset.y_val) if held_out else (dataset.x_train, dataset.y_train)
    true = dataset.original_target(y[:, 0])
    fig, ax = plt.subplots(figsize=(6.5, 6), layout="constrained")
    for color, result in zip(COLORS, results, strict=False):
        predicted = dataset.original_target(result.model(x)[:, 0])
        ax.scatter(
            true,
            predicted,
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
    ax.set_title(f"Predicted against true, {part}\n({data}; {STANDARDISED_LOSSES})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))  # off the points
    return save(fig, path)


def slug(name: str) -> str:
    """'Minibatch (128)' -> 'minibatch128': a file-name-safe form of a regime name."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def write_compare_figures(results: list[RegimeResult], dataset: Dataset, out: Path) -> list[Path]:
    """Every figure of a comparison, into ``out``; returns the paths written.

    The lesson-style figures (batch loss per step on the lesson's fixed 0..15 axis) are
    drawn for the lesson's data only; a curve over the input needs one input column, so
    wider data gets a predicted-against-true figure instead.
    """
    paths, used = [], set()
    floor = verdict.dataset_noise_floor(dataset)
    if dataset.name == "lesson":
        for index, result in enumerate(results):
            name = slug(result.name)
            name = f"{name}_{index + 1}" if name in used else name  # two regimes, same batch
            used.add(name)
            paths.append(lesson_figure(result, out / f"lesson_{name}.png", floor=floor))
    paths.append(overlay_figure(results, out / "compare_steps.png", floor=floor))
    paths.append(samples_figure(results, out / "compare_samples.png", floor=floor))
    paths.append(time_figure(results, out / "compare_time.png", floor=floor))
    if dataset.n_features == 1:
        paths.append(fits_figure(results, dataset, out / "compare_fits.png"))
    else:
        paths.append(predictions_figure(results, dataset, out / "compare_predictions.png"))
    return paths
