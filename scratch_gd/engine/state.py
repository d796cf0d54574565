"""What the compiled loop works on, as three named bundles of arrays instead of 20 arguments.

Numba compiles a ``NamedTuple`` of arrays like a C struct passed by value: reading
``net.params`` costs nothing at run time, and a function's signature says in three words
what it touches. ``CompiledEngine`` (``compiled.py``) builds them once per run.

* ``Net``: the MLP, flat. All parameters live in one array in torch's order (W_0, b_0,
  W_1, b_1, ...), and so do their gradients and momentum buffers, so the optimiser is a
  single pass over memory.
* ``Sgd``: the optimiser's settings and the one flag that changes (the first step).
* ``Work``: scratch space for the activations and gradients of one block of a batch,
  feature-major (``columns.py``), allocated once: a step allocates nothing. With several
  threads each field has one row per thread, and ``part_of`` hands a thread its own rows.
* ``RowsWork``: the same for a whole batch batch-major (``rows.py``), as one 2-D array
  per layer, so a batch of B samples is just the first B rows of each; and each layer's
  weight, bias and their gradients as views of ``Net``'s flat arrays. All are cut once,
  in Python: inside the loop a ``reshape`` costs about 25 ns, more than some of the
  products of a batch of one.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
from numba import njit


class Net(NamedTuple):
    sizes: np.ndarray  # (L + 1,) int64: the layer widths, input first
    offsets: np.ndarray  # (2L + 1,) int64: where W_0, b_0, W_1, ... start in the flat arrays
    params: np.ndarray  # every parameter, flat
    grads: np.ndarray  # their gradients, the same layout
    velocity: np.ndarray  # their momentum buffers (unused without momentum)


class Sgd(NamedTuple):
    hyper: np.ndarray  # (lr, momentum, 1 - dampening, weight_decay), in the model's dtype
    flags: (
        np.ndarray
    )  # int64 (nesterov, maximize, first_step, parts): indices below; parts = threads


NESTEROV, MAXIMIZE, FIRST_STEP, PARTS = 0, 1, 2, 3


class Work(NamedTuple):
    acts: np.ndarray  # a_0, a_1, ..., a_L one after the other, flat
    act_offsets: np.ndarray  # (L + 2,) int64: where each a_l starts in acts
    delta: np.ndarray  # the gradient flowing back through the current layer ...
    delta_prev: np.ndarray  # ... and the one for the layer below; swapped layer by layer
    scratch: np.ndarray  # room for one transposed weight matrix
    zeros: np.ndarray  # (widest,) zeros: the start value of the input-gradient products


class RowsWork(NamedTuple):
    weights: tuple  # W_l as (fan_out, fan_in) views of net.params, one per layer
    biases: tuple  # b_l, views of net.params
    grad_weights: tuple  # dW_l, views of net.grads
    grad_biases: tuple  # db_l, views of net.grads
    acts: tuple  # a_l as (max_batch, sizes[l]), for l = 0 .. L
    deltas: tuple  # dL/dz_l as (max_batch, sizes[l + 1]), one per layer
    transposed: tuple  # (fan_in, fan_out) room per layer: W_l.T, or dW_l.T
    zeros: np.ndarray  # (widest,) zeros: the start value of the input-gradient products


def make_rows_work(net: Net, max_batch: int) -> RowsWork:
    """Batch-major views of ``net`` and scratch space for up to ``max_batch`` samples."""
    widths = [int(size) for size in net.sizes]
    pairs = list(itertools.pairwise(widths))
    dtype = net.params.dtype
    views = {name: [] for name in ("weights", "biases", "grad_weights", "grad_biases")}
    for layer, (fan_in, fan_out) in enumerate(pairs):
        weight, bias = int(net.offsets[2 * layer]), int(net.offsets[2 * layer + 1])
        for flat, prefix in ((net.params, ""), (net.grads, "grad_")):
            views[prefix + "weights"].append(flat[weight:bias].reshape(fan_out, fan_in))
            views[prefix + "biases"].append(flat[bias : bias + fan_out])
    return RowsWork(
        **{name: tuple(arrays) for name, arrays in views.items()},
        acts=tuple(np.empty((max_batch, width), dtype) for width in widths),
        deltas=tuple(np.empty((max_batch, fan_out), dtype) for _, fan_out in pairs),
        transposed=tuple(np.empty((fan_in, fan_out), dtype) for fan_in, fan_out in pairs),
        zeros=np.zeros(max(widths), dtype),
    )


@njit(cache=True)
def part_of(work, part):  # pragma: no cover - compiled
    """Thread ``part``'s own rows of every per-thread buffer in ``work``."""
    return Work(
        work.acts[part],
        work.act_offsets,
        work.delta[part],
        work.delta_prev[part],
        work.scratch[part],
        work.zeros,
    )
