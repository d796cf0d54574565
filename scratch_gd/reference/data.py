"""The lesson's data set: a noisy parabola, y = 0.3 x^2 + noise."""

from __future__ import annotations

import numpy as np

DTYPES = {"float32": np.float32, "float64": np.float64}


def as_dtype(dtype: np.dtype | type | str) -> np.dtype:
    """The float dtype asked for, or a clear error for anything else."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def lesson_data(
    n: int = 1000, seed: int = 0, dtype: np.dtype | type | str = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """x evenly spaced on [-5, 5] and y = 0.3 x^2 + standard normal noise, as (n, 1) columns.

    Seeded exactly as the lesson does (``np.random.seed(seed)`` then ``randn``), but
    through a private ``RandomState`` so the global NumPy generator is left alone. So the
    data is the lesson's to the last bit; initial weights and batches are not (they come
    from NumPy's generator here, from torch's there).
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**32:
        raise ValueError(f"the lesson's seed must be a whole number in [0, 2**32), got {seed!r}")
    dtype = as_dtype(dtype)
    noise = np.random.RandomState(int(seed)).randn(int(n))
    x = np.linspace(-5, 5, int(n))
    y = 0.3 * x**2 + noise
    return x.reshape(-1, 1).astype(dtype), y.reshape(-1, 1).astype(dtype)
