"""What the compiled loop works on, as three named bundles of arrays instead of 20 arguments.

Numba compiles a ``NamedTuple`` of arrays like a C struct passed by value: reading
``net.params`` costs nothing at run time, and a function's signature says in three words
what it touches. ``CompiledEngine`` (``compiled.py``) builds them once per run.

* ``Net``: the MLP, flat. All parameters live in one array in torch's order (W_0, b_0,
  W_1, b_1, ...), and so do their gradients and momentum buffers, so the optimiser is a
  single pass over memory.
* ``Sgd``: the optimiser's settings and the one flag that changes (the first step).
* ``Work``: scratch space for the activations and gradients of one batch (or one block
  of one) on one thread, allocated once for the largest batch: a step allocates nothing.
  With several threads each field has one row per thread, and ``part_of`` hands a thread
  its own rows.
"""

from __future__ import annotations

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
