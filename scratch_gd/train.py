"""The training loop: draw a batch, forward, loss, backward, step; record; repeat."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from .history import Evaluation, History
from .loss import MSELoss
from .mlp import MLP
from .sampling import BatchSampler
from .sgd import SGD

ENGINES = ("auto", "layers")
CHUNK_STEPS = 256  # batches are drawn, and the progress bar updated, this many steps at a time


def check_data(model: MLP, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y as contiguous arrays of the model's dtype, or a clear error."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(
            f"x and y must be 2-D (samples, features), got shapes {x.shape} and {y.shape}; "
            "reshape a 1-D array with .reshape(-1, 1)"
        )
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}; they must match")
    if x.shape[1] != model.sizes[0] or y.shape[1] != model.sizes[-1]:
        raise ValueError(
            f"the model maps {model.sizes[0]} inputs to {model.sizes[-1]} outputs, but x has "
            f"{x.shape[1]} columns and y has {y.shape[1]}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite; remove or fill NaN and infinite values")
    x = np.ascontiguousarray(x, dtype=model.dtype)
    y = np.ascontiguousarray(y, dtype=model.dtype)
    return x, y


def train(
    model: MLP,
    optimizer: SGD,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    steps: int,
    seed: int = 0,
    sampling: str = "lesson",
    drop_last: bool = False,
    engine: str = "auto",
    progress: bool = True,
    desc: str | None = None,
    evaluate: Callable[[MLP], dict[str, float]] | None = None,
    eval_every: int | None = None,
) -> History:
    """Train ``model`` on (x, y) with mean squared error for ``steps`` optimiser steps.

    Each step: pick a batch (see ``sampling.BatchSampler``), clear gradients, run forward,
    measure the loss, run backward, update. Training stops early, keeping the history so
    far, when the loss stops being finite (``history.diverged_at``) or on Ctrl-C
    (``history.interrupted``).

    ``evaluate(model)``, if given, runs before the first step, every ``eval_every`` steps
    and after the last one, with the clock paused; its metrics land in
    ``history.evaluations``. Use it for losses that do not depend on the batch drawn, such
    as the loss over all the data or over a validation set.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be at least 1, got {eval_every}")
    x, y = check_data(model, x, y)
    sampler = BatchSampler(len(x), batch_size, mode=sampling, seed=seed, drop_last=drop_last)
    loss_fn = MSELoss()
    losses = np.empty(steps)
    seen = np.empty(steps, dtype=np.int64)
    seconds = np.empty(steps)
    history = History(losses, seen, seconds, batch_size, len(x), sampling, engine="layers")

    samples_so_far = 0
    step = 0
    paused = 0.0  # seconds spent evaluating, kept off the training clock

    def look() -> None:
        nonlocal paused
        if evaluate is None:
            return
        if history.evaluations and history.evaluations[-1].step == step:
            return
        began = time.perf_counter()
        clock = began - start - paused
        history.evaluations.append(Evaluation(step, samples_so_far, clock, evaluate(model)))
        paused += time.perf_counter() - began

    every = eval_every if evaluate is not None and eval_every else steps
    bar = tqdm(total=steps, desc=desc, disable=not progress, unit="step", leave=False)
    # The first chunk is drawn before the clock starts: it also loads the compiled sampler.
    count = min(CHUNK_STEPS, steps, every)
    indices, starts = sampler.next_chunk(count)
    start = time.perf_counter()
    look()
    try:
        while step < steps:
            if step > 0:
                count = min(CHUNK_STEPS, steps - step, every - step % every)
                indices, starts = sampler.next_chunk(count)
            for k in range(count):
                batch = indices[starts[k] : starts[k + 1]]
                optimizer.zero_grad()
                loss = loss_fn(model(x[batch]), y[batch])
                if not np.isfinite(loss):
                    history.diverged_at = step
                    break
                model.backward(loss_fn.backward())
                optimizer.step()
                samples_so_far += len(batch)
                losses[step], seen[step] = loss, samples_so_far
                seconds[step] = time.perf_counter() - start - paused
                step += 1
            bar.update(count)
            if history.diverged_at is not None:
                break
            if step % every == 0:
                look()
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        bar.close()
    history.loss, history.samples_seen, history.seconds = losses[:step], seen[:step], seconds[:step]
    if history.diverged_at is None and not history.interrupted:
        look()
    return history
