"""A whole Linear layer's forward and backward, each one compiled call.

``matmul_nt``, ``bias_add`` and friends check their arguments in Python on every call,
which costs a few microseconds each; a layer's backward needs three of them. For the
lesson's small layers that overhead is larger than the arithmetic, so ``Linear`` on the
Numba backend calls these two fused kernels instead, with the checks done once by the
layer itself. They use the row-combination kernels of ``small.py``, which beat the
dot-product tiles when the summed-over size is as short as 32 (no horizontal sums) and
need no transposed copies for the backward pass.

They run on one thread. Big layers, where threads pay, go through ``matmul`` and friends
instead: a cached function that calls a ``parallel=True`` one can crash when Numba loads
it back from its cache (numba/numba#8578), so the two kinds are never mixed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .elementwise import column_sum_kernel
from .small import affine_dot, combine_rows, gram

NARROW = 4  # outputs per row below which one dot product per output is faster


@njit(cache=True)
def linear_forward_kernel(x, weight, bias, out):  # pragma: no cover - compiled
    """out = x @ weight.T + bias; x (N, in), weight (out, in), bias (out,), out (N, out)."""
    if weight.shape[0] < NARROW:
        affine_dot(x, weight, bias, out)  # a narrow output, like the last layer's one column
    else:
        # Each output row is a sum of rows of weight.T: its rows must be contiguous.
        combine_rows(x, np.ascontiguousarray(weight.T), bias, out)


@njit(cache=True)
def linear_backward_kernel(grad_out, x, weight):  # pragma: no cover - compiled
    """grad_x = G @ weight, grad_weight = G.T @ x, grad_bias = G summed over the batch.

    Shapes: grad_out G (N, out), x (N, in), weight (out, in)
        ->  grad_x (N, in), grad_weight (out, in), grad_bias (out,).
    Both products read their operands as they are stored: grad_x[n] combines rows of
    weight, and grad_weight adds one outer product G[n] x[n] per sample.
    """
    n, out_features = grad_out.shape
    in_features = x.shape[1]
    dtype = grad_out.dtype
    grad_x = np.empty((n, in_features), dtype)
    combine_rows(grad_out, weight, np.zeros(in_features, dtype), grad_x)
    grad_weight = np.empty((out_features, in_features), dtype)
    gram(grad_out, x, grad_weight)
    grad_bias = np.empty(out_features, dtype)
    column_sum_kernel(grad_out, grad_bias)
    return grad_x, grad_weight, grad_bias
