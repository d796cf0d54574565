"""The compiled training loop: many SGD steps of an MLP in one call, no Python in between.

Each step does what ``train``'s layer-by-layer path does, in the same order: gather the
batch, forward, loss, backward (``engine_rows.py`` for small batches, ``engine_columns.py``
for large ones), then one SGD step on every parameter with torch's rules
(``kernels.elementwise.sgd_update_kernel``).

All parameters live in one flat array (torch's order: W_0, b_0, W_1, b_1, ...), and so
do their gradients and momentum buffers, so the optimiser is a single pass over memory.
Activations and gradients go into buffers the caller allocated once for the largest
batch; a step allocates nothing.

A large batch runs feature-major in blocks of at most BLOCK_SAMPLES samples. Each block
writes its gradient into a buffer of its own, and the buffers are added in block order.
The blocks depend only on the batch size, so the sum, and every bit of the result, is
the same whether one thread runs all the blocks or several threads share them: the
engine may pick the number of threads by speed (``engine.py``) and a seed still gives
the same run on any machine.

The loop stops early at the first step whose loss, or whose updated parameters, are not
finite, and says so in ``status`` (see the STATUS_* codes).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels.elementwise import sgd_update_kernel
from ..kernels.small import count_not_finite
from .columns import BLOCK_SAMPLES, forward_backward_columns
from .rows import forward_backward_rows

STATUS_OK = 0
STATUS_LOSS_NOT_FINITE = 1
STATUS_PARAMS_NOT_FINITE = 2

ROWS, COLUMNS = 0, 1  # the two layouts (flags[3])


@njit(cache=True)
def run_blocks(
    x,
    y,
    batch,
    sizes,
    params,
    grad_blocks,
    squared_blocks,
    first,
    last,
    blocks,
    offsets,
    acts,
    act_offsets,
    delta,
    delta_prev,
    scratch,
    zeros,
    count,
):  # pragma: no cover - compiled
    """Blocks ``first`` to ``last - 1`` of the ``blocks`` equal blocks of ``batch``: block b's
    gradient goes to ``grad_blocks[b]``, its summed squared error to ``squared_blocks[b]``."""
    rows = batch.shape[0]
    for index in range(first, last):
        start, stop = rows * index // blocks, rows * (index + 1) // blocks
        squared_blocks[index] = forward_backward_columns(
            x,
            y,
            batch[start:stop],
            sizes,
            params,
            grad_blocks[index],
            offsets,
            acts,
            act_offsets,
            delta,
            delta_prev,
            scratch,
            zeros,
            count,
        )


@njit(cache=True, parallel=True)
def run_blocks_in_parts(
    x,
    y,
    batch,
    sizes,
    params,
    grad_blocks,
    squared_blocks,
    blocks,
    offsets,
    acts,
    act_offsets,
    delta,
    delta_prev,
    scratch,
    zeros,
    count,
    parts,
):  # pragma: no cover - compiled
    """``run_blocks`` for all blocks, shared out between ``parts`` threads, each with its
    own row of the work buffers."""
    for part in prange(parts):
        run_blocks(
            x,
            y,
            batch,
            sizes,
            params,
            grad_blocks,
            squared_blocks,
            blocks * part // parts,
            blocks * (part + 1) // parts,
            blocks,
            offsets,
            acts[part],
            act_offsets,
            delta[part],
            delta_prev[part],
            scratch[part],
            zeros,
            count,
        )


@njit(cache=True)
def train_steps(
    x,
    y,
    indices,
    starts,
    sizes,
    params,
    grads,
    grad_blocks,
    squared_blocks,
    velocity,
    offsets,
    acts,
    act_offsets,
    delta,
    delta_prev,
    scratch,
    zeros,
    hyper,
    flags,
    losses,
    status,
):  # pragma: no cover - compiled
    """Run ``len(starts) - 1`` SGD steps; batch k is ``indices[starts[k]:starts[k + 1]]``.

    ``hyper`` = (lr, momentum, 1 - dampening, weight_decay) in the parameters' dtype;
    ``flags`` = (nesterov, maximize, first_step, layout, parts); ``first_step`` is cleared
    once the momentum buffer exists; ``parts`` is how many threads may share a step's blocks.
    ``acts``, ``delta``, ``delta_prev`` and ``scratch`` have one row per part,
    ``grad_blocks`` and ``squared_blocks`` one per block. ``losses[k]`` gets the loss of
    step k.
    On return ``status`` = (steps completed, STATUS_*): a step that ends non-finite is
    not counted, so ``status[0]`` is also the index of the step that diverged.
    """
    lr, momentum, dampening_complement, weight_decay = hyper[0], hyper[1], hyper[2], hyper[3]
    nesterov, maximize = flags[0] != 0, flags[1] != 0
    layout, parts = flags[3], flags[4]
    largest = float(np.finfo(params.dtype).max)
    outputs = sizes[sizes.shape[0] - 1]
    steps = starts.shape[0] - 1
    # Without momentum there is no buffer; the update kernel then never reads this one.
    buffer = velocity if momentum != 0 else params
    for step in range(steps):
        batch = indices[starts[step] : starts[step + 1]]
        count = batch.shape[0] * outputs
        blocks = (batch.shape[0] + BLOCK_SAMPLES - 1) // BLOCK_SAMPLES
        if layout == ROWS:
            squared = forward_backward_rows(
                x,
                y,
                batch,
                sizes,
                params,
                grads,
                offsets,
                acts[0],
                act_offsets,
                delta[0],
                delta_prev[0],
                scratch[0],
                zeros,
                count,
            )
        else:
            # One block writes its gradient straight into grads; several write a buffer
            # each, added below in block order, whichever thread computed which block.
            blocks = max(blocks, 1)
            into = grads.reshape((1, grads.shape[0])) if blocks == 1 else grad_blocks
            threads = min(parts, blocks)
            if threads > 1:
                run_blocks_in_parts(
                    x,
                    y,
                    batch,
                    sizes,
                    params,
                    into,
                    squared_blocks,
                    blocks,
                    offsets,
                    acts,
                    act_offsets,
                    delta,
                    delta_prev,
                    scratch,
                    zeros,
                    count,
                    threads,
                )
            else:
                run_blocks(
                    x,
                    y,
                    batch,
                    sizes,
                    params,
                    into,
                    squared_blocks,
                    0,
                    blocks,
                    blocks,
                    offsets,
                    acts[0],
                    act_offsets,
                    delta[0],
                    delta_prev[0],
                    scratch[0],
                    zeros,
                    count,
                )
            squared = squared_blocks[0]
            if blocks > 1:
                grads[:] = grad_blocks[0]
                for index in range(1, blocks):
                    grads += grad_blocks[index]
                    squared += squared_blocks[index]
        # A sum past the dtype's range is infinite in the layer path's own arithmetic.
        if not (squared <= largest):
            status[0], status[1] = step, STATUS_LOSS_NOT_FINITE
            return
        sgd_update_kernel(
            params,
            grads,
            buffer,
            lr,
            momentum,
            dampening_complement,
            weight_decay,
            nesterov,
            maximize,
            flags[2] != 0,
        )
        flags[2] = 0
        if count_not_finite(params) != 0:
            status[0], status[1] = step, STATUS_PARAMS_NOT_FINITE
            return
        losses[step] = squared / count
    status[0], status[1] = steps, STATUS_OK
