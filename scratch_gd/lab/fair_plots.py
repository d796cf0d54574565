"""Figures of the fair race: full-data loss against steps, samples seen and seconds; the sweep.

Each regime is a median line over seeds inside a shaded band from the best seed to the
worst. Validation loss, when there is a held-out split, is the dashed line of the same
colour. Every axis is logarithmic: steps, samples and seconds span decades between the
regimes, and losses fall by decades.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .fair import CURVE_AXES, Curve, FairResult, SweepPoint, curve
from .race import FULL_LOSS, VALIDATION_LOSS
from .race_plots import COLORS, save

XLABELS = {
    "steps": "Step (one parameter update, log scale)",
    "samples": "Samples seen (count, log scale)",
    "seconds": "Training time (seconds, evaluation excluded, log scale)",
}
TITLES = {
    "steps": "Full-data loss per step: a full batch makes the most of each update",
    "samples": "Full-data loss against data used: small batches learn more per sample",
    "seconds": "Full-data loss against training time: what a user waits for",
}


def _finite(values: np.ndarray) -> np.ndarray:
    """Infinite losses (a diverged seed) as gaps: a log axis cannot draw infinity."""
    return np.where(np.isfinite(values), values, np.nan)


def race_figure(result: FairResult, axis: str, path: Path) -> Path:
    """Median and min-max band of every regime's full-data loss against ``axis``."""
    if axis not in CURVE_AXES:
        raise ValueError(f"axis must be one of {', '.join(CURVE_AXES)}, got {axis!r}")
    curves = [curve(results) for results in result.runs.values()]
    seeds = len(result.seeds)
    fig, ax = plt.subplots(figsize=(8, 5))
    for color, regime_curve in zip(COLORS, curves, strict=False):
        _draw_curve(ax, regime_curve, getattr(regime_curve, CURVE_AXES[axis]), color)
    _draw_start(ax, curves)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(XLABELS[axis])
    validated = any(VALIDATION_LOSS in c.median for c in curves)
    ax.set_ylabel(
        "Loss (MSE, log scale): all training data, validation dashed"
        if validated
        else "Loss over all training data (MSE, log scale)"
    )
    spread = f"median of {seeds} seeds, band: min to max" if seeds > 1 else "one seed"
    ax.set_title(f"{TITLES[axis]}\n({spread}; lr chosen per regime by a sweep)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save(fig, path)


def _draw_curve(ax: plt.Axes, regime_curve: Curve, xs: np.ndarray, color: str) -> None:
    shown = regime_curve.steps > 0  # step 0 has no place on a log axis; see _draw_start
    median = _finite(regime_curve.median[FULL_LOSS])[shown]
    label = f"{regime_curve.regime}, lr {regime_curve.lr:.2g}"
    ax.plot(xs[shown], median, color=color, linewidth=1.8, label=label)
    reporting = regime_curve.seeds_reporting
    if reporting.min() < reporting.max() or np.isinf(regime_curve.high[FULL_LOSS]).any():
        # The band's top is missing where a seed diverged; say so rather than hide it.
        ax.plot([], [], " ", label=f"{regime_curve.regime}: some seeds diverged")
    ax.fill_between(
        xs[shown],
        _finite(regime_curve.low[FULL_LOSS])[shown],
        _finite(regime_curve.high[FULL_LOSS])[shown],
        color=color,
        alpha=0.2,
        linewidth=0,
    )
    if VALIDATION_LOSS in regime_curve.median:
        ax.plot(
            xs[shown],
            _finite(regime_curve.median[VALIDATION_LOSS])[shown],
            color=color,
            linewidth=1.4,
            linestyle="--",
            label=f"{regime_curve.regime}: validation loss (held-out data)",
        )


def _draw_start(ax: plt.Axes, curves: list[Curve]) -> None:
    """Every regime starts from the same weights, so one line marks the loss at step 0."""
    starts = [c.median[FULL_LOSS][0] for c in curves if len(c.steps) and c.steps[0] == 0]
    if starts and np.isfinite(starts[0]):
        ax.axhline(starts[0], color="0.4", linestyle=":", linewidth=1.2, label="at initialisation")


def sweep_figure(points: list[SweepPoint], chosen: dict[str, SweepPoint], path: Path) -> Path:
    """The sweep's score (mean full-data loss over the last fifth of each run) against
    learning rate, per regime; diverged runs as crosses above the rest."""
    fig, ax = plt.subplots(figsize=(8, 5))
    finite = [p.tail_loss for p in points if not p.diverged]
    ceiling = max(finite) * 2 if finite else 1.0  # where the diverged crosses sit
    regimes = dict.fromkeys(p.regime for p in points)
    for index, (color, regime) in enumerate(zip(COLORS, regimes, strict=False)):
        mine = sorted((p for p in points if p.regime == regime), key=lambda p: p.lr)
        # A diverged run is a gap in the line: no loss to join its neighbours through.
        ax.plot(
            [p.lr for p in mine],
            [np.nan if p.diverged else p.tail_loss for p in mine],
            "o-",
            color=color,
            label=f"{regime}, batch {mine[0].batch_size}, momentum {mine[0].momentum:g}",
        )
        broken = [p.lr for p in mine if p.diverged]
        if broken:
            # One row of crosses per regime, so regimes that diverge at the same lr all show.
            row = ceiling * 1.25**index
            ax.plot(broken, [row] * len(broken), "x", color=color, markersize=10)
        winner = chosen.get(regime)
        if winner is not None:
            ax.plot(
                winner.lr, winner.tail_loss, "o", markersize=14, markerfacecolor="none", color=color
            )
    ax.plot([], [], "x", color="0.3", label="diverged (drawn at the top)")
    ax.plot([], [], "o", markerfacecolor="none", markersize=12, color="0.3", label="chosen")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Learning rate (log scale)")
    ax.set_ylabel("Full-data loss, mean over the run's last fifth (MSE, log)")
    ax.set_title("Learning-rate sweep: each regime gets the rate that suits it best")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save(fig, path)


def write_fair_figures(result: FairResult, out: Path) -> list[Path]:
    """The three race figures and the sweep figure, into ``out``; returns the paths."""
    paths = [race_figure(result, axis, out / f"fair_{axis}.png") for axis in CURVE_AXES]
    paths.append(sweep_figure(result.sweep, result.chosen, out / "fair_sweep.png"))
    return paths
