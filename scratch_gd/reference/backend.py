"""How a layer's matrix products are computed: by NumPy's BLAS, or by our Numba kernels.

A fully connected layer needs three products, one forward and two backward:

    out    = x @ weight.T          ->  backend.matmul_nt(x, weight)
    grad_x = grad_out @ weight     ->  backend.matmul(grad_out, weight)
    grad_w = grad_out.T @ x        ->  backend.matmul_tn(grad_out, x)

A backend changes *how* these are computed, never *what*: ``linear.py`` writes the layer's
maths once and is handed the backend as a value. ``NUMBA`` runs the hand-written kernels of
``scratch_gd/kernels`` (the project's default), ``NUMPY`` runs NumPy's ``@``; tests prove
the two agree to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import kernels

Product = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Backend:
    """The three matrix products a layer needs, and a name to report."""

    name: str
    matmul: Product  # a @ b
    matmul_nt: Product  # a @ b.T
    matmul_tn: Product  # a.T @ b

    def __str__(self) -> str:
        return self.name


def _numpy_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b


def _numpy_matmul_nt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b.T


def _numpy_matmul_tn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.T @ b


NUMPY = Backend("numpy", _numpy_matmul, _numpy_matmul_nt, _numpy_matmul_tn)
NUMBA = Backend("numba", kernels.matmul, kernels.matmul_nt, kernels.matmul_tn)
BACKENDS = {backend.name: backend for backend in (NUMBA, NUMPY)}


def get_backend(backend: str | Backend) -> Backend:
    """A ``Backend`` itself, or the one of that name ("numba" or "numpy")."""
    if isinstance(backend, Backend):
        return backend
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[backend]
