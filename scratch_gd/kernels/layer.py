"""A whole Linear layer's forward and backward, each one compiled call.

``matmul_nt``, ``bias_add`` and friends check their arguments in Python on every call,
which costs a few microseconds each; a layer's backward needs three of them. For the
lesson's small layers that overhead is larger than the arithmetic, so ``Linear`` on the
Numba backend calls these two fused kernels instead: the same tiled products and the
same element-wise loops, with the checks done once by the layer itself.

They run on one thread. Big layers, where threads pay, go through ``matmul`` and friends
instead: a cached function that calls a ``parallel=True`` one crashes when Numba loads
it back from its cache (numba/numba#8578), so the two kinds are never mixed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .elementwise import bias_add_kernel, column_sum_kernel
from .tiled import gemm_rows


@njit(cache=True)
def _product(a, bt, out):  # pragma: no cover - compiled
    # out = a @ bt.T for C-contiguous a and bt, every row on this thread.
    gemm_rows(a, bt, out, 0, a.shape[0])


@njit(cache=True)
def linear_forward_kernel(x, weight, bias, out):  # pragma: no cover - compiled
    """out = x @ weight.T + bias; x (N, in), weight (out, in), bias (out,), out (N, out)."""
    _product(x, weight, out)  # weight's rows are already the K-contiguous rows
    bias_add_kernel(out, bias, False, out)


@njit(cache=True)
def linear_backward_kernel(grad_out, x, weight):  # pragma: no cover - compiled
    """grad_x = G @ weight, grad_weight = G.T @ x, grad_bias = G summed over the batch.

    Shapes: grad_out G (N, out), x (N, in), weight (out, in)
        ->  grad_x (N, in), grad_weight (out, in), grad_bias (out,).
    The tiled kernel wants the summed-over axis contiguous in both operands, so the
    transposes it needs are packed first: O(N * width) copies before O(N * width^2) work.
    """
    n, out_features = grad_out.shape
    in_features = x.shape[1]
    dtype = grad_out.dtype
    grad_x = np.empty((n, in_features), dtype)
    _product(grad_out, np.ascontiguousarray(weight.T), grad_x)
    grad_weight = np.empty((out_features, in_features), dtype)
    _product(np.ascontiguousarray(grad_out.T), np.ascontiguousarray(x.T), grad_weight)
    grad_bias = np.empty(out_features, dtype)
    column_sum_kernel(grad_out, grad_bias)
    return grad_x, grad_weight, grad_bias
