"""The loss landscape the three regimes travel: along straight lines, and on a plane.

Write w for all the network's weights as one vector (1153 numbers for the lesson's
1-32-32-1 MLP) and L(w) for the full-data loss. Every regime starts from the same w_0 (the
same seed) and ends at its own w_T. Two views of L around those runs:

1. **The line from the start to each end**: L(w_0 + α (w_T - w_0)) for α from -0.25 to
   1.25. α = 0 is the start, α = 1 where the run stopped. If the lowest point lies beyond
   α = 1 the run stopped short on its way down (too few steps or too small a learning
   rate); if it lies before α = 1 the run has gone past it (the swing of momentum). A bump
   between 0 and 1 is on the straight line, not necessarily on the path: the run may have
   gone round it, as the plane shows.

2. **A plane through the start**: pool the visited weights of all three runs, sampled every
   few steps, as displacements d_i = w_i - w_0, and take the two directions e_1, e_2 that
   best explain them (PCA: the first two right singular vectors of the matrix of the d_i,
   not centred, since the plane must pass through w_0). The plane w_0 + a e_1 + b e_2 is
   then the one through the start that lies closest to all the paths (least squares); its
   share of the paths' squared length is (s_1² + s_2²) / Σ s_k² with s the singular values.
   The figure draws L on that plane as contours, and each path projected onto it:
   (a_i, b_i) = (d_i · e_1, d_i · e_2), so every path starts at the origin.

A projected path is a shadow: the weights themselves lie off the plane (by
``off_plane`` of their distance from the start), so the loss a run had at a point is not
the contour value under its shadow. The record keeps both, to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..reference.mlp import MLP
from .race import FULL_LOSS, RegimeConfig, RegimeResult, full_data_loss, run_regime

ALPHAS = np.arange(-10, 51) / 40  # -0.25 to 1.25 in steps of 0.025, with 0 and 1 exact
SAMPLES = 100  # weight snapshots per run for the PCA (plus the start)
RESOLUTION = 41  # grid points per side of the plane
MARGIN = 0.25  # the plane's grid reaches this share of the paths' span beyond them


# --- Weights as one vector -------------------------------------------------------------------


def flat_weights(model: MLP) -> np.ndarray:
    """Every parameter of ``model``, in order, as one float64 vector."""
    return np.concatenate([param.data.ravel().astype(np.float64) for param in model.parameters()])


def set_weights(model: MLP, flat: np.ndarray) -> None:
    """Put the vector ``flat`` (as from ``flat_weights``) back into ``model``'s parameters."""
    start = 0
    for param in model.parameters():
        stop = start + param.data.size
        param.data[...] = flat[start:stop].reshape(param.data.shape)
        start = stop
    if start != len(flat):
        raise ValueError(f"{len(flat)} weights for a model of {start}")


def loss_at(probe: MLP, weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """L(w): the full-data loss of the network with weights ``weights``."""
    set_weights(probe, weights)
    with np.errstate(all="ignore"):  # far from the runs the loss may overflow: inf
        return full_data_loss(probe, x, y)


# --- The runs ----------------------------------------------------------------------------------


@dataclass
class Trajectory:
    """One regime's run and the weights it visited, every ``every`` steps."""

    result: RegimeResult
    steps: np.ndarray  # steps taken at each snapshot
    weights: np.ndarray  # (snapshots, n_weights), float64
    full_loss: np.ndarray  # L at each snapshot, measured during training

    @property
    def name(self) -> str:
        return self.result.name


def run_trajectories(
    configs: Sequence[RegimeConfig],
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: list[int],
    steps: int,
    seed: int,
    dtype: np.dtype,
    every: int | None = None,
    progress: bool = True,
    engine: str = "layers",
    backend: str = "numba",
) -> list[Trajectory]:
    """Train each regime from the same start and keep its weights every ``every`` steps.

    The snapshots are taken at the run's full-data evaluations (``run_regime(watch=...)``),
    with the clock paused; the first is the start, the last the end of the run.
    """
    every = every or max(1, steps // SAMPLES)
    trajectories = []
    for config in configs:
        snapshots: list[np.ndarray] = []
        result = run_regime(
            config,
            x,
            y,
            sizes=sizes,
            steps=steps,
            seed=seed,
            dtype=dtype,
            progress=progress,
            eval_every=every,
            engine=engine,
            backend=backend,
            watch=lambda model, keep=snapshots: keep.append(flat_weights(model)),
        )
        evaluations = result.history.evaluations
        weights = np.array(snapshots)
        finite = np.all(np.isfinite(weights), axis=1)  # a diverged run's last weights may not be
        trajectories.append(
            Trajectory(
                result,
                np.array([e.step for e in evaluations])[finite],
                weights[finite],
                np.array([e.metrics[FULL_LOSS] for e in evaluations])[finite],
            )
        )
        if result.history.interrupted:
            break
    return trajectories


# --- The two views ---------------------------------------------------------------------------


def line_losses(
    probe: MLP,
    start: np.ndarray,
    end: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    alphas: np.ndarray = ALPHAS,
) -> np.ndarray:
    """L(w_0 + α (w_T - w_0)) for each α."""
    return np.array([loss_at(probe, start + alpha * (end - start), x, y) for alpha in alphas])


def main_directions(
    start: np.ndarray, trajectories: Sequence[Trajectory]
) -> tuple[np.ndarray, float]:
    """e_1, e_2 (rows of a (2, n_weights) array, orthonormal) and the share of the paths'
    squared distance from the start that the plane they span holds.

    Signs are chosen so that the paths' ends lie, on the whole, at positive coordinates.
    """
    displacements = np.concatenate([t.weights - start for t in trajectories])
    _, singular, right = np.linalg.svd(displacements, full_matrices=False)
    directions = right[:2].copy()
    ends = np.array([t.weights[-1] - start for t in trajectories])
    for k in range(2):
        if np.sum(ends @ directions[k]) < 0:
            directions[k] *= -1
    share = float(np.sum(singular[:2] ** 2) / np.sum(singular**2))
    return directions, share


def project(weights: np.ndarray, start: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """(a, b) = ((w - w_0) · e_1, (w - w_0) · e_2) for each row w of ``weights``."""
    return (weights - start) @ directions.T


def off_plane(weights: np.ndarray, start: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """|w - w_0 - its projection| / |w - w_0|: how far off the plane, as a share (0 at w_0)."""
    displacement = weights - start
    residual = displacement - project(weights, start, directions) @ directions
    length = np.linalg.norm(displacement, axis=1)
    return np.divide(
        np.linalg.norm(residual, axis=1), length, out=np.zeros_like(length), where=length > 0
    )


def plane_grid(paths: Sequence[np.ndarray], resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid coordinates a and b covering every projected path (and the origin), plus a margin."""
    points = np.concatenate([*paths, np.zeros((1, 2))])
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.maximum(high - low, 1e-12)
    low, high = low - MARGIN * span, high + MARGIN * span
    return np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)


def plane_losses(
    probe: MLP,
    start: np.ndarray,
    directions: np.ndarray,
    a_values: np.ndarray,
    b_values: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """L(w_0 + a e_1 + b e_2) on the grid, as a (len(b_values), len(a_values)) array."""
    surface = np.empty((len(b_values), len(a_values)))
    for i, b in enumerate(b_values):
        for j, a in enumerate(a_values):
            surface[i, j] = loss_at(probe, start + a * directions[0] + b * directions[1], x, y)
    return surface


@dataclass
class Landscape:
    """Both views, ready to draw and to record."""

    alphas: np.ndarray
    lines: dict[str, np.ndarray]  # regime -> L along its line, one value per alpha
    directions: np.ndarray  # (2, n_weights): e_1, e_2
    plane_share: float  # share of the paths' squared distance from w_0 the plane holds
    a: np.ndarray
    b: np.ndarray
    surface: np.ndarray  # (len(b), len(a))
    paths: dict[str, np.ndarray]  # regime -> (snapshots, 2) projected path
    off_plane: dict[str, np.ndarray]  # regime -> share of each snapshot's distance off plane
    path_loss: dict[str, np.ndarray]  # regime -> L of the real weights at each snapshot
    shadow_loss: dict[str, np.ndarray]  # regime -> L on the plane at each projected snapshot


def compute_landscape(
    trajectories: Sequence[Trajectory],
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: list[int],
    dtype: np.dtype,
    resolution: int = RESOLUTION,
    alphas: np.ndarray = ALPHAS,
) -> Landscape:
    """Measure L along each start-to-end line and on the PCA plane of the pooled paths."""
    # A spare network to evaluate any weight vector with (NumPy backend: faster for one-off
    # forward passes of layers this small).
    probe = MLP(sizes, dtype=dtype, backend="numpy")
    start = trajectories[0].weights[0]
    for trajectory in trajectories:
        if not np.array_equal(trajectory.weights[0], start):
            raise ValueError("every run must start from the same weights (the same seed)")
    lines = {t.name: line_losses(probe, start, t.weights[-1], x, y, alphas) for t in trajectories}
    directions, share = main_directions(start, trajectories)
    paths = {t.name: project(t.weights, start, directions) for t in trajectories}
    a_values, b_values = plane_grid(list(paths.values()), resolution)
    surface = plane_losses(probe, start, directions, a_values, b_values, x, y)
    shadows = {
        name: np.array([loss_at(probe, start + path @ directions, x, y) for path in points])
        for name, points in paths.items()
    }
    return Landscape(
        alphas=alphas,
        lines=lines,
        directions=directions,
        plane_share=share,
        a=a_values,
        b=b_values,
        surface=surface,
        paths=paths,
        off_plane={t.name: off_plane(t.weights, start, directions) for t in trajectories},
        path_loss={t.name: t.full_loss for t in trajectories},
        shadow_loss=shadows,
    )


def landscape_results(landscape: Landscape, trajectories: Sequence[Trajectory]) -> dict:
    """What the JSON record keeps: every number the figure is drawn from."""
    regimes = {}
    for t in trajectories:
        line = landscape.lines[t.name]
        lowest = int(np.nanargmin(line))
        regimes[t.name] = {
            "batch_size": t.result.history.batch_size,
            "momentum": t.result.config.momentum,
            "lr": t.result.config.lr,
            "start_loss": float(t.full_loss[0]),
            "final_loss": float(t.full_loss[-1]),
            "distance_travelled": float(np.linalg.norm(t.weights[-1] - t.weights[0])),
            "line_loss": line,
            "line_lowest_alpha": float(landscape.alphas[lowest]),
            "line_lowest_loss": float(line[lowest]),
            "snapshot_steps": t.steps,
            "path_on_plane": landscape.paths[t.name],
            "off_plane_share": landscape.off_plane[t.name],
            "path_loss": landscape.path_loss[t.name],
            "loss_on_plane_under_path": landscape.shadow_loss[t.name],
            "diverged_at": t.result.history.diverged_at,
        }
    return {
        "alphas": landscape.alphas,
        "plane_share_of_squared_distance": landscape.plane_share,
        "plane_a": landscape.a,
        "plane_b": landscape.b,
        "plane_loss": landscape.surface,  # rows: b, columns: a
        "regimes": regimes,
    }


def summary_table(results: dict) -> str:
    """One row per regime: where it went and what the two views say about it."""
    header = (
        f"{'regime':<18} {'start loss':>10} {'end loss':>9} {'|w_end - w0|':>12} "
        f"{'line lowest':>11} {'at alpha':>8} {'off plane':>9}"
    )
    lines = [header, "-" * len(header)]
    for name, regime in results["regimes"].items():
        lines.append(
            f"{name:<18} {regime['start_loss']:>10.4g} {regime['final_loss']:>9.4g} "
            f"{regime['distance_travelled']:>12.3g} {regime['line_lowest_loss']:>11.4g} "
            f"{regime['line_lowest_alpha']:>8g} {regime['off_plane_share'][-1]:>9.0%}"
        )
    share = results["plane_share_of_squared_distance"]
    lines.append(f"the plane holds {share:.1%} of the pooled paths' squared distance from w0")
    return "\n".join(lines)


# --- The figure ------------------------------------------------------------------------------

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def landscape_figure(
    landscape: Landscape,
    trajectories: Sequence[Trajectory],
    path: Path,
    *,
    subtitle: str = "",
) -> Path:
    """Left: L along each start-to-end line. Right: L on the PCA plane, paths drawn over it."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from .race_plots import save

    fig, (line_ax, plane_ax) = plt.subplots(
        1, 2, figsize=(12, 5.2), dpi=100, layout="constrained", width_ratios=[1, 1.15]
    )
    for color, t in zip(COLORS, trajectories, strict=False):
        line = landscape.lines[t.name]
        lowest = int(np.nanargmin(line))
        where = f"α = {landscape.alphas[lowest]:g}"
        if lowest in (0, len(line) - 1):
            where += " (edge: lower beyond)"
        line_ax.plot(
            landscape.alphas,
            line,
            color=color,
            label=(
                f"{t.name} (batch {t.result.history.batch_size}, m {t.result.config.momentum:g}):"
                f" end {line[list(landscape.alphas).index(1.0)]:.3g}, lowest at {where}"
            ),
        )
        line_ax.plot(landscape.alphas[lowest], line[lowest], "v", color=color)
    for alpha, name in ((0, "start"), (1, "end")):
        line_ax.axvline(alpha, color="0.4", linestyle=":", linewidth=1)
        line_ax.text(alpha + 0.01, 0.02, name, transform=line_ax.get_xaxis_transform())
    line_ax.set_yscale("log")
    line_ax.set_xlabel("α: weights w₀ + α (w_end − w₀)")
    line_ax.set_ylabel("full-data loss (MSE, log scale)")
    line_ax.set_title(
        "Loss along the straight line from the start to each run's end\n(▼: lowest point on the line)",
        fontsize=9,
    )
    line_ax.grid(alpha=0.3, which="both")
    line_ax.legend(fontsize=7.5, loc="upper center")

    surface = landscape.surface
    finite = surface[np.isfinite(surface)]
    low, high = float(finite.min()), float(np.percentile(finite, 98))
    levels = np.geomspace(low, max(high, low * 1.01), 25)
    grid_a, grid_b = np.meshgrid(landscape.a, landscape.b)
    filled = plane_ax.contourf(
        grid_a, grid_b, np.clip(surface, low, high), levels=levels, norm=LogNorm(), cmap="viridis"
    )
    plane_ax.contour(grid_a, grid_b, surface, levels=levels[::3], colors="white", linewidths=0.4)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 1e4, 1e5) if low <= t <= high]
    bar = fig.colorbar(filled, ax=plane_ax, ticks=ticks, format="%g")
    bar.set_label(f"full-data loss on the plane (log scale; top colour: ≥ {high:.2g})")
    for color, t in zip(COLORS, trajectories, strict=False):
        points = landscape.paths[t.name]
        share = float(landscape.off_plane[t.name][-1])
        moved = float(np.linalg.norm(t.weights[-1] - t.weights[0]))
        plane_ax.plot(points[:, 0], points[:, 1], "-", color=color, linewidth=1.5)
        plane_ax.plot(
            points[-1, 0],
            points[-1, 1],
            "o",
            color=color,
            markeredgecolor="white",
            label=f"{t.name}: ends {moved:.2g} from w₀, {share:.0%} of that off the plane",
        )
    plane_ax.plot(0, 0, "ks", markeredgecolor="white", label="start w₀ (every run)")
    plane_ax.set_xlabel("a: along e₁, the paths' first main direction (weight units)")
    plane_ax.set_ylabel("b: along e₂, the second")
    plane_ax.set_title(
        "Loss on the plane through w₀ of the paths' two main directions (PCA)\n"
        f"it holds {landscape.plane_share:.0%} of the pooled paths' squared distance from w₀",
        fontsize=9,
    )
    plane_ax.legend(fontsize=7.5, loc="best")
    title = (
        "The loss landscape of the lesson's three runs (paths drawn as their shadows on the plane)"
    )
    fig.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize=10)
    return save(fig, path)
