"""A fully connected layer: ``out = x @ weight.T + bias``, forward and backward."""

from __future__ import annotations

import numpy as np

from .backend import NUMPY, Backend, get_backend
from .module import Module
from .parameter import Parameter


def linear_forward(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray, backend: Backend = NUMPY
) -> tuple[np.ndarray, np.ndarray]:
    """Affine map of a batch, in torch's layout.

    Shapes: x (N, in), weight (out, in), bias (out,)  ->  out (N, out).
    Returns ``(out, cache)``; the cache is just ``x``, all that backward needs.
    """
    out = backend.matmul_nt(x, weight) + bias
    return out, x


def linear_backward(
    grad_out: np.ndarray, cache: np.ndarray, weight: np.ndarray, backend: Backend = NUMPY
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
    grad_x = backend.matmul(grad_out, weight)
    grad_weight = backend.matmul_tn(grad_out, x)
    grad_bias = grad_out.sum(axis=0)
    return grad_x, grad_weight, grad_bias


class Linear(Module):
    """``torch.nn.Linear`` from scratch: weight (out, in), bias (out,).

    Initialised like torch: both weight and bias uniform in +-1/sqrt(in_features)
    (torch's ``kaiming_uniform_(a=sqrt(5))`` works out to exactly that bound).
    ``backend`` says how the products are computed (see ``backend.py``): our Numba
    kernels by default, or NumPy's.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        dtype: np.dtype | type = np.float32,
        rng: np.random.Generator | None = None,
        backend: str | Backend = "numba",
    ) -> None:
        rng = np.random.default_rng() if rng is None else rng
        bound = 1.0 / np.sqrt(in_features)
        shape = (out_features, in_features)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, size=out_features).astype(dtype))
        self.backend = get_backend(backend)
        self.cache: np.ndarray | None = None  # what forward kept for backward: the input x

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self.cache = linear_forward(x, self.weight.data, self.bias.data, self.backend)
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self.check_forward_ran()
        grad_x, grad_weight, grad_bias = linear_backward(
            grad_out, self.cache, self.weight.data, self.backend
        )
        self.weight.grad += grad_weight  # += so gradients accumulate, like torch
        self.bias.grad += grad_bias
        return grad_x

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"
