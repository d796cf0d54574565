"""One batch's forward and backward pass, batch-major: activations stored (B, features).

Best for small batches (down to one sample, where every product is a matrix-vector
product). ``columns.py`` does the same for large batches in feature-major layout.

    a_0 = x[batch]                                   gather the batch
    z_l = a_l @ W_l.T + b_l,  a_{l+1} = max(z_l, 0)  forward (no ReLU after the last layer)
    loss = mean((a_L - y[batch])^2),  G = (2 / N) (a_L - y[batch])
    dW_l = G.T @ a_l,  db_l = sum_n G[n]             backward, last layer first
    G <- (G @ W_l) * [a_l > 0]                       the gradient handed to the layer below
"""

from __future__ import annotations

from numba import njit

from ..kernels.elementwise import column_sum_kernel
from ..kernels.small import (
    affine_dot,
    combine_rows,
    gram,
    relu_inplace,
    relu_mask_inplace,
    transpose_into,
)

# The forward pass transposes W once per step to use the row-combination kernel; that
# pays once a batch has a few rows and the layer is wide enough to fill SIMD registers.
COMBINE_MIN_ROWS = 4
COMBINE_MIN_WIDTH = 8


@njit(cache=True)
def forward_backward_rows(x, y, batch, work, count):  # pragma: no cover - compiled
    """Forward and backward pass of one batch stored batch-major: each sample one row.

    Fills the gradients (through the per-layer views ``work.grad_weights`` and
    ``work.grad_biases``, see ``state.py``) and returns the summed squared error. ``batch`` holds the sample indices (B,); ``count`` is the number
    of elements the mean is over (B * outputs). Shapes: x (n, sizes[0]), y (n, sizes[-1]);
    ``work`` (a ``RowsWork``) has room for every layer's activations and gradients.
    """
    layers = len(work.weights)
    rows = batch.shape[0]
    a = work.acts[0][:rows]
    for r in range(rows):
        # Element by element: a whole-row copy would compile a shape check and its
        # error message, about a second of the engine's first compile.
        sample = x[batch[r]]
        for feature in range(a.shape[1]):
            a[r, feature] = sample[feature]

    for layer in range(layers):
        weight, bias = work.weights[layer], work.biases[layer]
        z = work.acts[layer + 1][:rows]
        if rows >= COMBINE_MIN_ROWS and weight.shape[0] >= COMBINE_MIN_WIDTH:
            weight_t = work.transposed[layer]
            transpose_into(weight, weight_t)
            combine_rows(a, weight_t, bias, z)
        else:
            affine_dot(a, weight, bias, z)
        if layer < layers - 1:
            relu_inplace(z)
        a = z

    # Mean squared error over all B * outputs elements, and its gradient (2 / N)(out - y).
    g = work.deltas[layers - 1][:rows]
    scale = a.dtype.type(2.0 / count)
    squared = 0.0
    for r in range(rows):
        target = y[batch[r]]
        for j in range(a.shape[1]):
            diff = a[r, j] - target[j]
            squared += float(diff) * float(diff)
            g[r, j] = diff * scale

    for layer in range(layers - 1, -1, -1):
        a = work.acts[layer][:rows]
        grad_weight = work.grad_weights[layer]
        fan_out, fan_in = grad_weight.shape
        if fan_in >= fan_out:
            gram(g, a, grad_weight)
        else:
            # Rows of fan_out are the longer ones: compute dW.T, then transpose it.
            grad_weight_t = work.transposed[layer]
            gram(a, g, grad_weight_t)
            transpose_into(grad_weight_t, grad_weight)
        column_sum_kernel(g, work.grad_biases[layer])
        if layer > 0:
            g_prev = work.deltas[layer - 1][:rows]
            combine_rows(g, work.weights[layer], work.zeros[:fan_in], g_prev)
            relu_mask_inplace(g_prev, a)  # a = the ReLU output of the layer below
            g = g_prev
    return squared
