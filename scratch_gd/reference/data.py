"""The lesson's data set: a noisy parabola, y = 0.3 x^2 + noise."""

from __future__ import annotations

import numpy as np

from .mlp import as_dtype


def lesson_data(
    n: int = 1000, seed: int = 0, dtype: np.dtype | type | str = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """x evenly spaced on [-5, 5] and y = 0.3 x^2 + standard normal noise, as (n, 1) columns.

    Seeded exactly as the lesson does (``np.random.seed(seed)`` then ``randn``), but
    through a private ``RandomState`` so the global NumPy generator is left alone.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    dtype = as_dtype(dtype)
    noise = np.random.RandomState(seed).randn(n)
    x = np.linspace(-5, 5, n)
    y = 0.3 * x**2 + noise
    return x.reshape(-1, 1).astype(dtype), y.reshape(-1, 1).astype(dtype)
