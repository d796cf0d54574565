"""How noisy is a mini-batch gradient? Measured at fixed weights, against the 1/B law.

Write g_i for the gradient of sample i's own loss, g = (1/N) sum_i g_i for the full-data
gradient, and g_B = (1/B) sum_{i in batch} g_i for the gradient of a batch of B samples
(the MSE of a batch is the mean of its samples' losses, so its gradient is the mean of
theirs). The *noise* of g_B is how far it lands from g; we measure its total variance

    V(B) = E ||g_B - g||^2        (the sum of the variances of all P coordinates),

averaging over many random batches drawn at the same weights. Sampling theory predicts it
from one number, the per-sample variance sigma^2 = (1/N) sum_i ||g_i - g||^2:

* with replacement (B independent draws):     V(B) = sigma^2 / B
* without replacement (B distinct samples):   V(B) = sigma^2 / B * (N - B) / (N - 1)

The second is the *finite-population correction*: once a batch holds most of the data it
cannot stray far from the whole, and at B = N it is the whole (V = 0). The lesson draws
batches without replacement (a fresh shuffle, then its first B samples).

Comparing V(B) with ||g||^2 says when a batch gradient is mostly signal:
B_noise = sigma^2 / ||g||^2 is the batch size at which noise and signal are equal
(McCandlish et al. 2018, "An Empirical Model of Large-Batch Training"). Far below it,
doubling the batch halves the noise, which is worth paying for; far above it, the
gradient is already nearly exact and a larger batch buys little.

Per-sample gradients come from one vectorised backward pass (``per_sample_gradients``):
the backprop of ``linear.py`` with the sum over the batch left undone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..reference.mlp import MLP
from ..reference.sampling import BatchSampler

if TYPE_CHECKING:  # only for type hints: matplotlib loads when a figure is drawn
    import matplotlib.pyplot as plt

MAX_GRADIENT_MATRIX_BYTES = 400 * 2**20  # N x P float64 per-sample gradients held at once
DRAW_CHUNK_ENTRIES = 2**22  # draws are handled in chunks of about this many matrix entries


def per_sample_gradients(model: MLP, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of each sample's own loss, one row per sample, in float64.

    Shapes: x (N, in), y (N, out) -> (N, P), P = number of parameters, columns in the order
    of ``model.parameters()`` (each layer's weight, flattened row-major, then its bias).

    Sample i's loss is l_i = (1/out) sum_o (pred_io - y_io)^2, so a batch's MSE is the mean
    of its l_i and the batch gradient is the mean of these rows. Backward is the one in
    ``linear.py``/``relu.py``, except that the per-sample terms are kept, not summed:
        dl_i/dweight = outer(grad_out_i, x_i)     (linear_backward sums these over i)
        dl_i/dbias   = grad_out_i
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    linears = model.linears
    weights = [linear.weight.data.astype(np.float64) for linear in linears]
    biases = [linear.bias.data.astype(np.float64) for linear in linears]
    activations = [x]  # the input of each Linear: x, then every hidden ReLU output
    for weight, bias in zip(weights[:-1], biases[:-1], strict=True):
        activations.append(np.maximum(activations[-1] @ weight.T + bias, 0.0))
    prediction = activations[-1] @ weights[-1].T + biases[-1]
    # dl_i/dpred_i: the MSE gradient (2/N)(pred - y) without the 1/N, since l_i is one sample's.
    grad_out = 2.0 * (prediction - y) / y.shape[1]
    pieces: list[np.ndarray] = []
    for layer in reversed(range(len(linears))):
        inputs = activations[layer]
        grad_weight = grad_out[:, :, None] * inputs[:, None, :]  # (N, out, in)
        pieces = [grad_weight.reshape(len(x), -1), grad_out, *pieces]
        if layer > 0:
            # Through the Linear (grad_out @ weight) and the ReLU before it (mask out > 0).
            grad_out = (grad_out @ weights[layer]) * (inputs > 0)
    return np.concatenate(pieces, axis=1)


def gradient_matrix_bytes(n_samples: int, n_parameters: int) -> int:
    return 8 * n_samples * n_parameters


@dataclass
class NoisePoint:
    """The measured and predicted noise of one batch size, drawn one way."""

    batch_size: int
    replacement: bool
    measured: float  # mean over draws of ||g_B - g||^2
    standard_error: float  # of ``measured``: std over draws / sqrt(draws)
    predicted: float  # sigma^2 / B, times (N - B) / (N - 1) without replacement
    draws: int

    @property
    def sampling(self) -> str:
        return "with replacement" if self.replacement else "without replacement"

    @property
    def ratio(self) -> float:
        """measured / predicted (NaN when the prediction is 0: a batch of all the data)."""
        return self.measured / self.predicted if self.predicted > 0 else float("nan")

    @property
    def z_score(self) -> float:
        """How many standard errors the measurement lies from the prediction."""
        if self.standard_error > 0:
            return (self.measured - self.predicted) / self.standard_error
        return 0.0 if self.measured == self.predicted else float("inf")


@dataclass
class NoiseAtWeights:
    """Everything measured at one set of weights."""

    label: str  # e.g. "initial weights"
    steps_trained: int
    n_samples: int
    n_parameters: int
    sigma2: float  # per-sample gradient variance (1/N) sum_i ||g_i - g||^2
    full_gradient_norm2: float  # ||g||^2
    points: list[NoisePoint]

    @property
    def noise_scale(self) -> float:
        """B_noise = sigma^2 / ||g||^2: the batch size where noise equals signal."""
        if self.full_gradient_norm2 > 0:
            return self.sigma2 / self.full_gradient_norm2
        return float("inf")


def predicted_variance(sigma2: float, n_samples: int, batch_size: int, replacement: bool) -> float:
    """sigma^2 / B, with the finite-population factor (N - B) / (N - 1) without replacement."""
    if replacement:
        return sigma2 / batch_size
    if n_samples == 1:
        return 0.0
    return sigma2 / batch_size * (n_samples - batch_size) / (n_samples - 1)


def draw_batches(
    n_samples: int, batch_size: int, draws: int, *, replacement: bool, seed: int
) -> np.ndarray:
    """``draws`` batches of sample indices, shape (draws, batch_size).

    Without replacement this is the lesson's own sampler (a fresh shuffle, the first B).
    """
    if replacement:
        return np.random.default_rng(seed).integers(0, n_samples, size=(draws, batch_size))
    sampler = BatchSampler(n_samples, batch_size, mode="lesson", seed=seed)
    indices, _ = sampler.next_chunk(draws)
    return indices.reshape(draws, batch_size)


def batch_deviations(centred: np.ndarray, batches: np.ndarray) -> np.ndarray:
    """||g_B - g||^2 for each batch (a row of ``batches``), given rows g_i - g.

    g_B - g is the mean of the batch's centred rows. Counting how often each sample is in
    each batch turns all those means into one matrix product: counts (draws, N) @ centred
    (N, P) / B. It works the same with replacement (a count can exceed 1) and without.
    """
    n_samples = len(centred)
    draws, batch_size = batches.shape
    squared = np.empty(draws)
    chunk = max(1, DRAW_CHUNK_ENTRIES // n_samples)
    for start in range(0, draws, chunk):
        part = batches[start : start + chunk]
        rows = np.arange(len(part))[:, None] * n_samples
        counts = np.bincount((rows + part).ravel(), minlength=len(part) * n_samples)
        means = counts.reshape(len(part), n_samples).astype(np.float64) @ centred / batch_size
        squared[start : start + len(part)] = np.einsum("dp,dp->d", means, means)
    return squared


def gradient_noise(
    gradients: np.ndarray,
    batch_sizes: Sequence[int],
    *,
    draws: int = 1000,
    seed: int = 0,
    label: str = "initial weights",
    steps_trained: int = 0,
) -> NoiseAtWeights:
    """Measure V(B) for each batch size, with and without replacement, from per-sample
    gradients (rows of ``gradients``, shape (N, P)), beside the predictions."""
    n_samples, n_parameters = gradients.shape
    full_gradient = gradients.mean(axis=0)
    centred = gradients - full_gradient
    sigma2 = float(np.einsum("np,np->", centred, centred) / n_samples)
    points = []
    for index, batch_size in enumerate(batch_sizes):
        if not 1 <= batch_size <= n_samples:
            raise ValueError(
                f"batch size {batch_size} is outside 1..{n_samples} (the number of samples)"
            )
        for replacement in (True, False):
            batches = draw_batches(
                n_samples,
                batch_size,
                draws,
                replacement=replacement,
                seed=seed + 2 * index + int(replacement),
            )
            squared = batch_deviations(centred, batches)
            spread = float(squared.std(ddof=1)) if draws > 1 else float("inf")
            points.append(
                NoisePoint(
                    batch_size=int(batch_size),
                    replacement=replacement,
                    measured=float(squared.mean()),
                    standard_error=spread / math.sqrt(draws),
                    predicted=predicted_variance(sigma2, n_samples, batch_size, replacement),
                    draws=draws,
                )
            )
    return NoiseAtWeights(
        label=label,
        steps_trained=steps_trained,
        n_samples=n_samples,
        n_parameters=n_parameters,
        sigma2=sigma2,
        full_gradient_norm2=float(full_gradient @ full_gradient),
        points=points,
    )


def noise_table(results: Sequence[NoiseAtWeights]) -> str:
    """A plain-text table: one row per weights, batch size and way of drawing."""
    header = (
        f"{'weights':<22} {'batch':>6} {'drawn':<12} {'measured V':>11} {'+-1 s.e.':>9} "
        f"{'predicted':>10} {'meas/pred':>9}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        for point in result.points:
            drawn = "with repl." if point.replacement else "without"
            ratio = f"{point.ratio:.3f}" if point.predicted > 0 else "exact 0"
            lines.append(
                f"{result.label:<22} {point.batch_size:>6} {drawn:<12} {point.measured:>11.4g} "
                f"{point.standard_error:>9.2g} {point.predicted:>10.4g} {ratio:>9}"
            )
        lines.append(
            f"{result.label}: sigma^2 = {result.sigma2:.4g} over N = {result.n_samples} samples "
            f"and P = {result.n_parameters} parameters; ||g||^2 = "
            f"{result.full_gradient_norm2:.4g}; noise scale sigma^2/||g||^2 = "
            f"{result.noise_scale:.3g} samples"
        )
    return "\n".join(lines)


# --- Figure ---------------------------------------------------------------------------------


def noise_figure(results: Sequence[NoiseAtWeights], path: Path, *, subtitle: str = "") -> Path:
    """Log-log: measured V(B) with and without replacement, the two predictions, ||g||^2."""
    import matplotlib.pyplot as plt

    from .race_plots import save

    fig, axes = plt.subplots(
        1, len(results), figsize=(6.4 * len(results), 5.0), squeeze=False, layout="constrained"
    )
    for ax, result in zip(axes[0], results, strict=True):
        _draw_noise(ax, result)
    title = "Mini-batch gradient noise against batch size, at fixed weights"
    fig.suptitle(f"{title}\n{subtitle}" if subtitle else title)
    return save(fig, path)


def _draw_noise(ax: plt.Axes, result: NoiseAtWeights) -> None:
    n = result.n_samples
    grid = np.unique(np.geomspace(1, n, 200).round().astype(int))
    ax.plot(
        grid,
        [predicted_variance(result.sigma2, n, b, True) for b in grid],
        "--",
        color="#1f77b4",
        label="predicted, with replacement: σ²/B",
    )
    finite = grid[grid < n]
    ax.plot(
        finite,
        [predicted_variance(result.sigma2, n, b, False) for b in finite],
        "-",
        color="#d62728",
        label="predicted, without: σ²/B · (N−B)/(N−1)",
    )
    for replacement, marker, color in ((True, "o", "#1f77b4"), (False, "s", "#d62728")):
        points = [p for p in result.points if p.replacement == replacement and p.measured > 0]
        points = [p for p in points if p.predicted > 0]  # B = N without: exactly 0, off a log axis
        ax.errorbar(
            [p.batch_size for p in points],
            [p.measured for p in points],
            yerr=[2 * p.standard_error for p in points],
            fmt=marker,
            color=color,
            markerfacecolor="none" if replacement else color,
            markersize=6,
            capsize=2,
            label=f"measured {'with' if replacement else 'without'} replacement (±2 s.e.)",
        )
    ax.axhline(
        result.full_gradient_norm2,
        color="0.4",
        linestyle=":",
        label=f"‖g‖² (signal); noise = signal at B ≈ {result.noise_scale:.3g}",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Batch size B (samples, log scale)")
    ax.set_ylabel("Gradient noise E‖g_B − g‖² (squared gradient units, log scale)")
    ax.set_title(
        f"{result.label} (N = {n}; at B = N without replacement the noise is exactly 0)",
        fontsize=9,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower left")
