"""A fully connected layer: ``out = x @ weight.T + bias``, forward and backward."""

from __future__ import annotations

import numba
import numpy as np

from .. import kernels
from ..kernels.layer import linear_backward_kernel, linear_forward_kernel
from .module import Module
from .parameter import Parameter

BACKENDS = ("numpy", "numba")


def linear_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Affine map of a batch, in torch's layout.

    Shapes: x (N, in), weight (out, in), bias (out,)  ->  out (N, out).
    Returns ``(out, cache)``; the cache is just ``x``, all that backward needs.
    """
    out = x @ weight.T + bias
    return out, x


def linear_backward(
    grad_out: np.ndarray, cache: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the affine map, from the upstream gradient G = dL/d(out).

    Shapes: grad_out (N, out), cache x (N, in), weight (out, in)
        ->  grad_x (N, in), grad_weight (out, in), grad_bias (out,).

    Each output is ``out[n, o] = sum_i x[n, i] * weight[o, i] + bias[o]``, so by the chain rule
        dL/dx[n, i]      = sum_o G[n, o] * weight[o, i]     i.e.  grad_x      = G @ weight
        dL/dweight[o, i] = sum_n G[n, o] * x[n, i]          i.e.  grad_weight = G.T @ x
        dL/dbias[o]      = sum_n G[n, o]                    i.e.  grad_bias   = G.sum(axis=0)
    The bias is shared by every row of the batch, which is why its gradient is a sum.
    """
    x = cache
    grad_x = grad_out @ weight
    grad_weight = grad_out.T @ x
    grad_bias = grad_out.sum(axis=0)
    return grad_x, grad_weight, grad_bias


# Multiply-adds from which a product is split across threads. The serial small-layer
# kernels are fast enough that threads only pay on layers far bigger than the lesson's.
PARALLEL_MIN_WORK = 2**24


def _threads_pay(rows: int, inner: int, cols: int) -> bool:
    """Whether a product this big is worth splitting across threads."""
    return numba.get_num_threads() > 1 and rows * inner * cols >= PARALLEL_MIN_WORK


def linear_forward_numba(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``linear_forward`` on the hand-written Numba kernels (same maths, same shapes).

    The compiled kernels take C-contiguous arrays of one dtype, the weight's; ``x`` is
    converted to that if it is anything else (free when it already is). Small layers run
    as one fused call (``kernels/layer.py``); big ones on the multi-threaded kernels.
    """
    x = np.ascontiguousarray(x, dtype=weight.dtype)
    weight, bias = np.ascontiguousarray(weight), np.ascontiguousarray(bias, dtype=weight.dtype)
    if _threads_pay(x.shape[0], x.shape[1], weight.shape[0]):
        out = kernels.matmul_nt(x, weight)
        kernels.bias_add(out, bias, out=out)
        return out, x
    out = np.empty((x.shape[0], weight.shape[0]), x.dtype)
    linear_forward_kernel(x, weight, bias, out)
    return out, x


def linear_backward_numba(
    grad_out: np.ndarray, cache: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``linear_backward`` on the hand-written Numba kernels (same maths, same shapes)."""
    x = cache
    grad_out = np.ascontiguousarray(grad_out, dtype=x.dtype)
    weight = np.ascontiguousarray(weight, dtype=x.dtype)
    if _threads_pay(*grad_out.shape, x.shape[1]):
        grad_x = kernels.matmul(grad_out, weight)
        grad_weight = kernels.matmul_tn(grad_out, x)
        return grad_x, grad_weight, kernels.column_sum(grad_out)
    return linear_backward_kernel(grad_out, x, weight)


class Linear(Module):
    """``torch.nn.Linear`` from scratch: weight (out, in), bias (out,).

    Initialised like torch: both weight and bias uniform in +-1/sqrt(in_features)
    (torch's ``kaiming_uniform_(a=sqrt(5))`` works out to exactly that bound).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        dtype: np.dtype | type = np.float32,
        rng: np.random.Generator | None = None,
        backend: str = "numba",
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        rng = np.random.default_rng() if rng is None else rng
        bound = 1.0 / np.sqrt(in_features)
        shape = (out_features, in_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, size=out_features).astype(dtype))
        self.backend = backend
        self._cache: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        forward = linear_forward_numba if self.backend == "numba" else linear_forward
        out, self._cache = forward(x, self.weight.data, self.bias.data)
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("Linear.backward called before forward; run the model first")
        backward = linear_backward_numba if self.backend == "numba" else linear_backward
        grad_x, grad_weight, grad_bias = backward(grad_out, self._cache, self.weight.data)
        self.weight.grad += grad_weight  # += so gradients accumulate, like torch
        self.bias.grad += grad_bias
        return grad_x

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"
