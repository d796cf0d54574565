"""The compiled training loop: many SGD steps of an MLP in one call, no Python in between.

Each step does what the reference loop does, in the same order: gather the batch,
forward, loss, backward (``rows.py`` for small batches, ``columns.py`` for large ones),
then one SGD step on every parameter with torch's rules
(``kernels.elementwise.sgd_update_kernel``). The arrays it works on come in three
bundles (``state.py``): the flat network ``net``, the optimiser ``sgd`` and the scratch
space ``work``.

There is one loop per layout, so a run compiles only the one it uses:
``train_steps_rows`` runs on one thread; ``train_steps_columns`` may share a step's
blocks between threads. A large batch runs feature-major in blocks of at most
BLOCK_SAMPLES samples. Each block writes its gradient into a buffer of its own, and the
buffers are added in block order. The blocks depend only on the batch size, so the sum,
and every bit of the result, is the same whether one thread runs all the blocks or
several threads share them: the engine may pick the number of threads by speed
(``compiled.py``) and a seed gives the same run, bit for bit, on one machine whatever the
number of threads. It is not the reference loop's run bit for bit, nor necessarily another
CPU's: the sums are taken in another order, so in float32 the losses agree to about 1e-3
after 1000 steps (the lesson's full batch: 2.2032 against the reference loop's 2.2031).

The loop stops early at the first step whose loss, or whose updated parameters, are not
finite, and says so in ``status`` (see the STATUS_* codes).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels.elementwise import sgd_update_kernel
from .columns import BLOCK_SAMPLES, forward_backward_columns
from .rows import forward_backward_rows
from .state import FIRST_STEP, MAXIMIZE, NESTEROV, PARTS, part_of

STATUS_OK = 0
STATUS_LOSS_NOT_FINITE = 1
STATUS_PARAMS_NOT_FINITE = 2

ROWS, COLUMNS = 0, 1  # the two layouts
# Only ``prange`` loops run in parallel. Numba would otherwise turn whole-array
# expressions into threaded loops of their own, each costing a parallel launch per step
# and seconds of compilation. (A fresh dict each time: Numba empties the one it reads.)
PRANGE_ONLY = dict.fromkeys(
    ("comprehension", "reduction", "inplace_binop", "setitem", "numpy", "stencil", "fusion"),
    False,
)


@njit(cache=True)
def finish_step(net, sgd, squared, count, step, losses, status):  # pragma: no cover
    """The end of every step: check the loss, update the parameters, check them.

    Returns False (with ``status`` set) if training must stop at this step.
    """
    largest = float(np.finfo(net.params.dtype).max)
    # A sum past the dtype's range is infinite in the reference path's own arithmetic.
    if not (squared <= largest):
        status[0], status[1] = step, STATUS_LOSS_NOT_FINITE
        return False
    hyper, flags = sgd.hyper, sgd.flags
    momentum = hyper[1]
    # Without momentum there is no buffer; the update kernel then never reads this one.
    buffer = net.velocity if momentum != 0 else net.params
    not_finite = sgd_update_kernel(
        net.params,
        net.grads,
        buffer,
        hyper[0],
        momentum,
        hyper[2],
        hyper[3],
        flags[NESTEROV] != 0,
        flags[MAXIMIZE] != 0,
        flags[FIRST_STEP] != 0,
    )
    flags[FIRST_STEP] = 0
    if not_finite != 0:
        status[0], status[1] = step, STATUS_PARAMS_NOT_FINITE
        return False
    losses[step] = squared / count
    return True


@njit(cache=True)
def train_steps_rows(x, y, indices, starts, net, sgd, work, losses, status):  # pragma: no cover
    """Run ``len(starts) - 1`` SGD steps batch-major on one thread.

    Batch k is ``indices[starts[k]:starts[k + 1]]``; ``losses[k]`` gets its loss. On
    return ``status`` = (steps completed, STATUS_*): a step that ends non-finite is not
    counted, so ``status[0]`` is also the index of the step that diverged.
    """
    outputs = net.sizes[net.sizes.shape[0] - 1]
    steps = starts.shape[0] - 1
    for step in range(steps):
        batch = indices[starts[step] : starts[step + 1]]
        count = batch.shape[0] * outputs
        squared = forward_backward_rows(x, y, batch, work, count)
        if not finish_step(net, sgd, squared, count, step, losses, status):
            return
    status[0], status[1] = steps, STATUS_OK


@njit(cache=True)
def run_blocks(
    x, y, batch, net, grad_blocks, squared_blocks, first, last, blocks, work, count
):  # pragma: no cover - compiled
    """Blocks ``first`` to ``last - 1`` of the ``blocks`` equal blocks of ``batch``: block b's
    gradient goes to ``grad_blocks[b]``, its summed squared error to ``squared_blocks[b]``."""
    rows = batch.shape[0]
    for index in range(first, last):
        start, stop = rows * index // blocks, rows * (index + 1) // blocks
        squared_blocks[index] = forward_backward_columns(
            x, y, batch[start:stop], net, grad_blocks[index], work, count
        )


@njit(cache=True, parallel=PRANGE_ONLY)
def train_steps_columns(
    x, y, indices, starts, net, sgd, work, grad_blocks, squared_blocks, losses, status
):  # pragma: no cover - compiled
    """``train_steps_rows`` feature-major, a step's blocks shared by ``sgd.flags[PARTS]``
    threads, each with its own row of ``work``; ``grad_blocks`` and ``squared_blocks`` have
    one row per block."""
    outputs = net.sizes[net.sizes.shape[0] - 1]
    grads = net.grads
    steps = starts.shape[0] - 1
    for step in range(steps):
        batch = indices[starts[step] : starts[step + 1]]
        count = batch.shape[0] * outputs
        blocks = max(1, (batch.shape[0] + BLOCK_SAMPLES - 1) // BLOCK_SAMPLES)
        if blocks == 1:
            squared = forward_backward_columns(x, y, batch, net, grads, part_of(work, 0), count)
        else:
            threads = min(sgd.flags[PARTS], blocks)
            if threads > 1:
                for part in prange(threads):
                    first, last = blocks * part // threads, blocks * (part + 1) // threads
                    run_blocks(x, y, batch, net, grad_blocks, squared_blocks, first, last,
                               blocks, part_of(work, part), count)  # fmt: skip
            else:
                for part in range(threads):  # the same call, so one compiled version
                    first, last = blocks * part // threads, blocks * (part + 1) // threads
                    run_blocks(x, y, batch, net, grad_blocks, squared_blocks, first, last,
                               blocks, part_of(work, part), count)  # fmt: skip
            # In block order, whichever thread computed which block.
            squared = squared_blocks[0]
            for index in range(1, blocks):
                squared += squared_blocks[index]
            for i in range(grads.shape[0]):
                total = grad_blocks[0, i]
                for index in range(1, blocks):
                    total += grad_blocks[index, i]
                grads[i] = total
        if not finish_step(net, sgd, squared, count, step, losses, status):
            return
    status[0], status[1] = steps, STATUS_OK


def train_steps(x, y, indices, starts, net, sgd, work, grad_blocks, squared_blocks, losses,
                status, layout):  # fmt: skip
    """Run the steps of one chunk in the compiled loop of ``layout`` (ROWS or COLUMNS)."""
    if layout == ROWS:
        train_steps_rows(x, y, indices, starts, net, sgd, work, losses, status)
    else:
        train_steps_columns(
            x, y, indices, starts, net, sgd, work, grad_blocks, squared_blocks, losses, status
        )
