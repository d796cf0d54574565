"""One batch's forward and backward pass, feature-major: activations stored (features, B).

The same steps as ``rows.py``, transposed: a_l is (d_l, B), so every kernel's
inner loop runs along the batch. For a batch of hundreds of samples those loops are long
and the small 32-wide layers still run at tens of GFLOP/s; for a batch of one they would
be one iteration long, which is why small batches use the batch-major pass instead.

A large batch goes through in blocks of at most BLOCK_SAMPLES samples (``loop.py``
adds up their gradients): the activations of one block stay in the L2 cache, where a
whole batch of 1000 would spill out of it.

    a_0 = x[batch].T                              gather the batch, one column per sample
    z_l = W_l @ a_l + b_l[:, None]                forward; a_{l+1} = max(z_l, 0) but the last
    G = (2 / N) (a_L - y[batch].T)                the gradient of the mean squared error
    dW_l = G @ a_l.T,  db_l = G.sum(axis=1)       backward, last layer first
    G <- (W_l.T @ G) * [a_l > 0]                  the gradient handed to the layer below
"""

from __future__ import annotations

from numba import njit

from ..kernels.small import (
    block,
    combine_columns,
    gram_columns,
    relu_inplace,
    relu_mask_inplace,
    row_sums,
    transpose_into,
)

BLOCK_SAMPLES = 256  # 32-wide float32 activations of 256 samples: 32 KiB per layer


@njit(cache=True)
def forward_backward_columns(x, y, batch, net, grads, work, count):  # pragma: no cover
    """Forward and backward pass of the samples ``batch`` (B,), stored feature-major.

    Fills ``grads`` (flat, laid out like ``net.grads``: one block's own buffer, or
    ``net.grads`` itself) and returns the summed squared error. ``count`` is the number
    of elements the mean is over: the whole batch's B * outputs, also when this call sees
    only part of it (one block).
    """
    sizes, offsets, params = net.sizes, net.offsets, net.params
    acts, act_offsets, scratch = work.acts, work.act_offsets, work.scratch
    delta, delta_prev = work.delta, work.delta_prev
    layers = sizes.shape[0] - 1
    rows = batch.shape[0]
    a = block(acts, act_offsets[0], sizes[0], rows)
    for feature in range(sizes[0]):
        column = a[feature]
        for r in range(rows):
            column[r] = x[batch[r], feature]

    for layer in range(layers):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        weight = block(params, offsets[2 * layer], fan_out, fan_in)
        bias = params[offsets[2 * layer + 1] : offsets[2 * layer + 1] + fan_out]
        z = block(acts, act_offsets[layer + 1], fan_out, rows)
        combine_columns(weight, a, bias, z)
        if layer < layers - 1:
            relu_inplace(z)
        a = z

    outputs = sizes[layers]
    g = block(delta, 0, outputs, rows)
    scale = a.dtype.type(2.0 / count)
    squared = 0.0
    for j in range(outputs):
        out_row, g_row = a[j], g[j]
        for r in range(rows):
            diff = out_row[r] - y[batch[r], j]
            squared += float(diff) * float(diff)
            g_row[r] = diff * scale

    for layer in range(layers - 1, -1, -1):
        fan_in, fan_out = sizes[layer], sizes[layer + 1]
        a = block(acts, act_offsets[layer], fan_in, rows)
        grad_weight = block(grads, offsets[2 * layer], fan_out, fan_in)
        gram_columns(g, a, grad_weight)
        row_sums(g, grads[offsets[2 * layer + 1] : offsets[2 * layer + 1] + fan_out])
        if layer > 0:
            weight = block(params, offsets[2 * layer], fan_out, fan_in)
            weight_t = block(scratch, 0, fan_in, fan_out)
            transpose_into(weight, weight_t)
            g_prev = block(delta_prev, 0, fan_in, rows)
            combine_columns(weight_t, g, work.zeros[:fan_in], g_prev)
            relu_mask_inplace(g_prev, a)  # a = the ReLU output of the layer below
            delta, delta_prev = delta_prev, delta
            g = g_prev
    return squared
