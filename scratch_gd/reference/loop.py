"""The training loop: for each batch, clear gradients, forward, loss, backward, step.

This is the loop that runs: ``scratch_gd.train`` (``run/train.py``) iterates
``training_steps`` and adds the service around it (progress bar, timing, evaluations,
Ctrl-C) without changing a line of it. ``train_loop`` is the same loop with no service
at all, the way you would write it yourself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from .loss import MSELoss
from .mlp import Sequential
from .sampling import BatchSampler
from .sgd import SGD


def training_steps(
    model: Sequential,
    optimizer: SGD,
    loss_fn: MSELoss,
    x: np.ndarray,
    y: np.ndarray,
    batches: Iterable[np.ndarray],
) -> Iterator[float]:
    """One SGD step per batch of sample indices; yields each step's loss.

    The loss is the batch's, measured before the step's update, as the lesson records it.
    A loss that is not finite ends the loop before its backward pass: a NaN has no
    gradient worth following, and the caller reports the divergence.
    """
    for batch in batches:
        optimizer.zero_grad()  # .grad accumulates (like torch): clear the last step's
        loss = loss_fn(model(x[batch]), y[batch])  # forward; every layer keeps its cache
        if not math.isfinite(loss):
            return
        model.backward(loss_fn.backward())  # dL/d(out) in, every parameter's .grad out
        optimizer.step()
        yield loss


def train_loop(
    model: Sequential,
    optimizer: SGD,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    steps: int,
    seed: int = 0,
    sampling: str = "lesson",
) -> list[float]:
    """``steps`` steps on batches drawn by ``BatchSampler``; the list of their losses."""
    sampler = BatchSampler(len(x), batch_size, mode=sampling, seed=seed)
    return list(training_steps(model, optimizer, MSELoss(), x, y, sampler.batches(steps)))
