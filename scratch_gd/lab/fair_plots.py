"""Figures of the fair race: full-data loss against steps, samples seen and seconds; the sweep.

Each regime is a median line over seeds inside a shaded band from the best seed to the
worst. Validation loss, when there is a held-out split, is the dashed line of the same
colour. The left panel is logarithmic on both axes: steps, samples and seconds span
decades between the regimes, and losses fall by decades. The right panel zooms in on the
end of the race on a linear loss axis, where the regimes finish within a few percent of
each other (and, on the lesson's data, of the noise floor drawn across both).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from . import verdict
from .fair import CURVE_AXES, Curve, FairResult, SweepPoint, curve
from .race import FULL_LOSS, VALIDATION_LOSS
from .race_plots import COLORS, save

XLABELS = {
    "steps": "Step (one parameter update, log scale)",
    "samples": "Samples seen (count, log scale)",
    "seconds": "Training time (seconds, evaluation excluded, log scale)",
}
TITLES = {
    "steps": "Full-data loss against steps",
    "samples": "Full-data loss against samples seen",
    "seconds": "Full-data loss against training time (one thread, one-time costs excluded)",
}


def _finite(values: np.ndarray) -> np.ndarray:
    """Infinite losses (a diverged seed) as gaps: a log axis cannot draw infinity."""
    return np.where(np.isfinite(values), values, np.nan)


def noise_floor_of(result: FairResult) -> float | None:
    """The data's noise floor, as the race's runs carry it (lesson data only)."""
    for results in result.runs.values():
        for run in results:
            if getattr(run, "noise_floor", None) is not None:
                return run.noise_floor
    return None


def race_figure(result: FairResult, axis: str, path: Path) -> Path:
    """Median and min-max band of every regime's full-data loss against ``axis``: the
    whole race (log-log), and a zoom on its end (linear loss) where the gaps are small."""
    if axis not in CURVE_AXES:
        raise ValueError(f"axis must be one of {', '.join(CURVE_AXES)}, got {axis!r}")
    curves = [curve(results) for results in result.runs.values()]
    seeds = len(result.seeds)
    floor = noise_floor_of(result)
    fig, (ax, zoom) = plt.subplots(
        1, 2, figsize=(11, 4.8), layout="constrained", gridspec_kw={"width_ratios": [3, 2]}
    )
    for color, regime_curve in zip(COLORS, curves, strict=False):
        xs = getattr(regime_curve, CURVE_AXES[axis])
        _draw_curve(ax, regime_curve, xs, color)
        _draw_curve(zoom, regime_curve, xs, color, label=False)
        _mark_final(zoom, regime_curve, xs, color)
    _draw_start(ax, curves)
    verdict.draw_floor(ax, floor)
    verdict.draw_floor(zoom, floor, label=False)
    for panel in (ax, zoom):
        panel.set_xscale("log")
        panel.set_xlabel(XLABELS[axis])
        panel.grid(alpha=0.3, which="both")
    ax.set_yscale("log")
    validated = any(VALIDATION_LOSS in c.median for c in curves)
    ax.set_ylabel(
        "Loss (MSE, log scale): all training data, validation dashed"
        if validated
        else "Loss over all training data (MSE, log scale)"
    )
    low, high = zoom_range(curves, floor)
    zoom.set_ylim(low, high)
    zoom.set_ylabel("Loss (MSE, linear scale)")
    zoom.set_title("Zoom on the end: final medians written", fontsize=9)
    spread = f"median of {seeds} seeds, band: min to max" if seeds > 1 else "one seed"
    ax.set_title(f"{TITLES[axis]}\n({spread}; lr chosen per regime by a sweep)", fontsize=10)
    # Below the axes, where the entries cover no curve.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return save(fig, path)


def zoom_range(curves: list[Curve], floor: float | None) -> tuple[float, float]:
    """Loss limits of the zoom: from just below the lowest final median (or the floor) to a
    little above the highest, so every regime's end and the floor show."""
    finals = [float(c.median[FULL_LOSS][-1]) for c in curves if len(c.steps)]
    finals = [value for value in finals if np.isfinite(value)]
    if floor is not None:
        finals.append(floor)
    if not finals:
        return 0.0, 1.0
    low, high = min(finals), max(finals)
    margin = max(0.05 * low, 0.6 * (high - low))
    return max(0.0, low - margin), high + margin


def _mark_final(ax: plt.Axes, regime_curve: Curve, xs: np.ndarray, color: str) -> None:
    final = float(regime_curve.median[FULL_LOSS][-1]) if len(xs) else np.nan
    if np.isfinite(final):
        ax.plot(xs[-1], final, "o", color=color, markersize=5)
        ax.annotate(
            f"{final:.3f}",
            (xs[-1], final),
            textcoords="offset points",
            xytext=(-4, 6),
            ha="right",
            fontsize=8,
            color=color,
        )


def _draw_curve(
    ax: plt.Axes, regime_curve: Curve, xs: np.ndarray, color: str, *, label: bool = True
) -> None:
    shown = regime_curve.steps > 0  # step 0 has no place on a log axis; see _draw_start
    median = _finite(regime_curve.median[FULL_LOSS])[shown]
    name = f"{regime_curve.regime}, lr {regime_curve.lr:.2g}" if label else None
    ax.plot(xs[shown], median, color=color, linewidth=1.8, label=name)
    reporting = regime_curve.seeds_reporting
    diverged = reporting.min() < reporting.max() or np.isinf(regime_curve.high[FULL_LOSS]).any()
    if label and diverged:
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
            label=f"{regime_curve.regime}: validation loss (held-out data)" if label else None,
        )


def _draw_start(ax: plt.Axes, curves: list[Curve]) -> None:
    """Every regime starts from the same weights, so one line marks the loss at step 0."""
    starts = [c.median[FULL_LOSS][0] for c in curves if len(c.steps) and c.steps[0] == 0]
    if starts and np.isfinite(starts[0]):
        ax.axhline(starts[0], color="0.4", linestyle=":", linewidth=1.2, label="at initialisation")


def sweep_figure(
    points: list[SweepPoint],
    chosen: dict[str, SweepPoint],
    path: Path,
    *,
    floor: float | None = None,
) -> Path:
    """The sweep's score (mean full-data loss over the last fifth of each run) against
    learning rate, per regime; diverged runs as crosses above the rest."""
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
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
        stuck = [p for p in mine if p.stuck and not p.diverged]
        if stuck:
            ax.plot([p.lr for p in stuck], [p.tail_loss for p in stuck], "s", color=color,
                    markersize=9, markerfacecolor="none")  # fmt: skip
    if any(p.stuck and not p.diverged for p in points):
        ax.plot(
            [], [], "s", color="0.3", markerfacecolor="none", label="stuck: predicts a constant"
        )
    ax.plot(
        [], [], "x", color="0.3",
        label=f"diverged (drawn at the top): not finite, or ended > {verdict.DIVERGED_FACTOR:g}x "
        "the initial loss",
    )  # fmt: skip
    ax.plot([], [], "o", markerfacecolor="none", markersize=12, color="0.3", label="chosen")
    verdict.draw_floor(ax, floor)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Learning rate (log scale)")
    ax.set_ylabel("Full-data loss, mean over the run's last fifth (MSE, log)")
    ax.set_title("Learning-rate sweep: each regime gets the rate that suits it best")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return save(fig, path)


def write_fair_figures(result: FairResult, out: Path) -> list[Path]:
    """The three race figures and the sweep figure, into ``out``; returns the paths."""
    paths = [race_figure(result, axis, out / f"fair_{axis}.png") for axis in CURVE_AXES]
    floor = noise_floor_of(result)
    paths.append(sweep_figure(result.sweep, result.chosen, out / "fair_sweep.png", floor=floor))
    return paths
