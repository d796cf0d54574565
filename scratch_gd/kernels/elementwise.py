"""The MLP's other kernels: bias (+ReLU) forward, ReLU backward, bias gradient, SGD step.

Each is one pass over memory, so the loops are plain. None uses ``fastmath``: they have
no long reductions to reorder, LLVM vectorises them anyway, and without it every
operation rounds exactly as NumPy's does (no fused multiply-adds, NaN handled by the
IEEE rules), so results are bit-for-bit NumPy's. All take C-contiguous arrays; the
wrappers in ``__init__`` make sure of that.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def bias_add_kernel(x, bias, relu, out):  # pragma: no cover - compiled
    # out = x + bias[None, :], then max(., 0) while the value is still in a register:
    # fusing saves a second pass over the whole activation matrix.
    zero = out.dtype.type(0)
    for i in range(x.shape[0]):
        x_row = x[i]
        out_row = out[i]
        for j in range(x.shape[1]):
            value = x_row[j] + bias[j]
            if relu and value < zero:  # "< 0", not ">= 0", so NaN passes through as in NumPy
                value = zero
            out_row[j] = value


@njit(cache=True)
def relu_backward_kernel(grad_out, out_relu, out):  # pragma: no cover - compiled
    # ReLU passes the gradient where its output was positive; at exactly 0 the
    # derivative is taken to be 0, as torch does.
    zero = out.dtype.type(0)
    for i in range(grad_out.shape[0]):
        grad_row = grad_out[i]
        relu_row = out_relu[i]
        out_row = out[i]
        for j in range(grad_out.shape[1]):
            out_row[j] = grad_row[j] if relu_row[j] > zero else zero


@njit(cache=True)
def column_sum_kernel(x, out):  # pragma: no cover - compiled
    # Adding whole rows keeps the inner loop contiguous (and vectorised across columns)
    # and sums each column top to bottom, the same order as NumPy's x.sum(axis=0).
    out[:] = 0
    for i in range(x.shape[0]):
        x_row = x[i]
        for j in range(x.shape[1]):
            out[j] += x_row[j]


@njit(cache=True)
def sgd_update_kernel(
    param,
    grad,
    velocity,
    lr,
    momentum,
    dampening_complement,
    weight_decay,
    nesterov,
    maximize,
    first_step,
):  # pragma: no cover - compiled
    # torch.optim.SGD, one element at a time, in the order torch rounds:
    #   g = -grad if maximize;  g = g + weight_decay * p
    #   v = g (first step)  or  v = momentum * v + (1 - dampening) * g
    #   g = g + momentum * v if nesterov else v;  p = p - lr * g
    # The scalars arrive already in the array's dtype, so a float32 update stays float32
    # like torch's; dampening arrives as (1 - dampening), rounded once as NumPy does.
    # Returns how many updated parameters are NaN or infinite: counted in the same pass
    # (``abs(p) <= max`` is false exactly for those), which the compiled engine checks
    # after every step, rather than reading all the parameters a second time.
    largest = np.finfo(param.dtype).max
    not_finite = 0
    for index in range(param.shape[0]):
        g = -grad[index] if maximize else grad[index]
        if weight_decay != 0:
            g = g + weight_decay * param[index]
        if momentum != 0:
            if first_step:
                v = g
            else:
                v = momentum * velocity[index] + dampening_complement * g
            velocity[index] = v
            g = g + momentum * v if nesterov else v
        updated = param[index] - lr * g
        param[index] = updated
        not_finite += 0 if abs(updated) <= largest else 1
    return not_finite
