"""The training loop: draw a batch, forward, loss, backward, step; record; repeat.

Two engines run the steps, on the same batches:

* ``layers``: the readable path. Each step calls the model's layers one by one, exactly
  as a learner would write it (see ``LayerEngine.run``). It works for any ``Module`` and
  is the reference the other engine is tested against.
* ``compiled``: the same maths for an ``MLP`` trained by ``SGD``, with the whole loop over
  a chunk of steps inside one Numba function (``engine_loop.py``): no Python between
  steps, buffers allocated once. Tens of times faster for small networks.

``engine="auto"`` (the default) picks ``compiled`` whenever it applies. Batches are drawn
in Python, chunk by chunk, by the same ``BatchSampler``, so a seed gives the same batches
whichever engine runs. Between chunks the progress bar moves, Ctrl-C is noticed, and
evaluations run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from ..engine.compiled import CompiledEngine, why_not_compiled
from ..kernels.small import count_not_finite
from ..reference.loss import MSELoss
from ..reference.mlp import MLP
from ..reference.sampling import BatchSampler
from ..reference.sgd import SGD
from .history import Evaluation, History

ENGINES = ("auto", "compiled", "layers")
CHUNK_STEPS = 4096  # the most steps drawn and run between two looks from Python
CHUNK_SECONDS = 0.05  # chunks are sized to take about this long, so Ctrl-C lands quickly
FIRST_CHUNK_STEPS = 8  # until the speed is known


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


def choose_engine(engine: str, model: MLP, optimizer: SGD) -> str:
    """The engine that will run: ``engine`` itself, or for "auto" the fastest that applies."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "layers":
        return "layers"
    reason = why_not_compiled(model, optimizer)
    if reason is None:
        return "compiled"
    if engine == "compiled":
        raise ValueError(
            f"engine='compiled' cannot train this: {reason}; use engine='layers' or 'auto'"
        )
    return "layers"


class LayerEngine:
    """Steps taken in Python, layer by layer: the readable reference."""

    times_each_step = True

    def __init__(self, model: MLP, optimizer: SGD, x: np.ndarray, y: np.ndarray) -> None:
        self.model, self.optimizer, self.x, self.y = model, optimizer, x, y
        self.loss_fn = MSELoss()
        self.done = 0  # steps finished in the current chunk, kept up to date for Ctrl-C

    def run(
        self,
        indices: np.ndarray,
        starts: np.ndarray,
        losses: np.ndarray,
        seconds: np.ndarray,
        clock: Callable[[], float],
    ) -> tuple[int, str]:
        """Train on batch k = ``indices[starts[k]:starts[k + 1]]`` for each k.

        Returns (steps completed, "" or what stopped being finite: "loss"/"parameters").
        """
        x, y, model, optimizer, loss_fn = self.x, self.y, self.model, self.optimizer, self.loss_fn
        self.done = 0
        # Overflow is not an accident to warn about here: it is checked for, step by step.
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(len(starts) - 1):
                batch = indices[starts[k] : starts[k + 1]]
                optimizer.zero_grad()
                loss = loss_fn(model(x[batch]), y[batch])
                if not np.isfinite(loss):
                    return k, "loss"
                model.backward(loss_fn.backward())
                optimizer.step()
                if any(count_not_finite(p.data.ravel()) for p in optimizer.params):
                    return k, "parameters"
                losses[k], seconds[k] = loss, clock()
                self.done = k + 1
        return self.done, ""

    def store(self) -> None:
        """Nothing to do: this engine works on the model's own arrays."""


def _next_count(steps_left: int, to_evaluation: int, rate: float | None) -> int:
    """How many steps the next chunk holds: up to the next evaluation, CHUNK_STEPS, and
    about CHUNK_SECONDS of work at the speed measured so far."""
    by_time = FIRST_CHUNK_STEPS if rate is None else max(1, int(rate * CHUNK_SECONDS))
    return max(1, min(CHUNK_STEPS, steps_left, to_evaluation, by_time))


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
    far, at the first step whose loss or whose updated parameters are not finite
    (``history.diverged_at`` is that step; the history holds the finite steps before it)
    or on Ctrl-C (``history.interrupted``).

    ``engine``: "layers", "compiled" or "auto" (compiled when it applies; see the module
    docstring). ``history.engine`` says which one ran. The compiled engine times whole
    chunks of steps, so ``history.seconds`` is spread evenly over the steps of a chunk.

    ``evaluate(model)``, if given, runs before the first step, every ``eval_every`` steps
    and after the last one, with the clock paused; its metrics land in
    ``history.evaluations``. Use it for losses that do not depend on the batch drawn, such
    as the loss over all the data or over a validation set.
    """
    chosen = choose_engine(engine, model, optimizer)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be at least 1, got {eval_every}")
    x, y = check_data(model, x, y)
    sampler = BatchSampler(len(x), batch_size, mode=sampling, seed=seed, drop_last=drop_last)
    losses = np.empty(steps)
    seen = np.empty(steps, dtype=np.int64)
    seconds = np.empty(steps)
    history = History(losses, seen, seconds, batch_size, len(x), sampling, engine=chosen)
    try:  # loading the compiled engine takes a moment: Ctrl-C may land here too
        if chosen == "compiled":
            runner: LayerEngine | CompiledEngine = CompiledEngine(
                model, optimizer, x, y, batch_size
            )
        else:
            runner = LayerEngine(model, optimizer, x, y)
    except KeyboardInterrupt:
        history.interrupted = True
        history.loss, history.samples_seen, history.seconds = losses[:0], seen[:0], seconds[:0]
        return history

    samples_so_far = 0
    step = 0
    paused = 0.0  # seconds spent evaluating, kept off the training clock

    def clock() -> float:
        return time.perf_counter() - start - paused

    def look() -> None:
        nonlocal paused
        if evaluate is None:
            return
        if history.evaluations and history.evaluations[-1].step == step:
            return
        began = time.perf_counter()
        history.evaluations.append(Evaluation(step, samples_so_far, clock(), evaluate(model)))
        paused += time.perf_counter() - began

    def record(starts: np.ndarray, done: int, began: float) -> None:
        # Samples seen after each step; the compiled engine's times spread over its chunk.
        nonlocal samples_so_far, step
        seen[step : step + done] = samples_so_far + starts[1 : done + 1]
        if not runner.times_each_step and done:
            ended = clock()
            fractions = np.arange(1, done + 1) / done
            seconds[step : step + done] = began + (ended - began) * fractions
        samples_so_far += int(starts[done])
        step += done

    every = eval_every if evaluate is not None and eval_every else steps
    rate = None  # steps per second, once measured
    bar = tqdm(total=steps, desc=desc, disable=not progress, unit="step", leave=False)
    start = time.perf_counter()
    began: float | None = None
    try:
        # The first chunk is drawn before the clock starts: it also loads the compiled sampler.
        count = _next_count(steps, every, rate)
        indices, starts = sampler.next_chunk(count)
        start = time.perf_counter()
        look()
        began = clock()
        while step < steps:
            if began is None:
                count = _next_count(steps - step, every - step % every, rate)
                indices, starts = sampler.next_chunk(count)
                began = clock()
            window = slice(step, step + count)
            done, broken = runner.run(indices, starts, losses[window], seconds[window], clock)
            elapsed = clock() - began
            record(starts, done, began)
            began = None
            bar.update(done)
            if broken:
                history.diverged_at = step
                history.info["not_finite"] = broken
                break
            if elapsed > 0:
                rate = done / elapsed
            if step % every == 0:
                look()
    except KeyboardInterrupt:
        history.interrupted = True
        runner.store()
        if began is not None:  # interrupted inside a chunk: keep the steps it finished
            done = runner.done
            record(starts, done, began)
    finally:
        bar.close()
    history.loss, history.samples_seen, history.seconds = losses[:step], seen[:step], seconds[:step]
    if isinstance(runner, CompiledEngine):
        history.info.update(runner.describe())
    if history.diverged_at is None and not history.interrupted:
        look()
    return history
