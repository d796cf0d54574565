"""``train()``: the reference loop, with the service a real run needs around it.

The steps themselves are ``reference.loop.training_steps``, unchanged. Around them this
module draws the batches, keeps the clock (paused while evaluating), records the
``History``, moves a progress bar, notices divergence and Ctrl-C.

``engine="layers"`` (the default) runs those reference steps. ``engine="compiled"`` opts
into the fused twin of ``scratch_gd/engine``: the same maths for an ``MLP`` trained by
``SGD``, a whole chunk of steps per Numba call, tested equal to the reference path. Both
read the same batches from one ``BatchSampler``, so a seed means the same run either way.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator

import numpy as np

from ..engine.compiled import CompiledEngine, why_not_compiled
from ..engine.sampling import first_of_shuffle
from ..reference import checks
from ..reference.loop import training_steps
from ..reference.loss import MSELoss
from ..reference.mlp import MLP
from ..reference.sampling import MODES, BatchSampler
from ..reference.sgd import SGD
from .history import Evaluation, History
from .progress import tqdm

ENGINES = ("auto", "compiled", "layers")
CHUNK_STEPS = 4096  # the most steps drawn and run between two looks from Python
CHUNK_SECONDS = 0.05  # compiled chunks are sized to take about this long, so Ctrl-C lands
FIRST_CHUNK_STEPS = 8  # until the speed is known


def check_data(model: MLP, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """x and y as contiguous arrays of the model's dtype, or a clear error."""
    x, y = checks.real_array("x", x), checks.real_array("y", y)
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
    with np.errstate(over="ignore"):
        x_cast = np.ascontiguousarray(x, dtype=model.dtype)
        y_cast = np.ascontiguousarray(y, dtype=model.dtype)
    if not (np.all(np.isfinite(x_cast)) and np.all(np.isfinite(y_cast))):
        limit = np.finfo(model.dtype).max
        raise ValueError(
            f"x or y holds values beyond {model.dtype}'s range (+-{limit:.3g}); rescale the "
            "data or use a float64 model"
        )
    return x_cast, y_cast


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
        raise ValueError(f"engine='compiled' cannot train this: {reason}; use engine='layers'")
    return "layers"


def check_pair(model: MLP, optimizer: SGD) -> None:
    """The optimiser must step this model's own parameters, or training changes nothing."""
    if not all(hasattr(optimizer, name) for name in ("params", "step", "zero_grad")):
        raise TypeError(
            f"train needs an optimizer such as sg.SGD(model.parameters(), lr=...), got a "
            f"{type(optimizer).__name__}"
        )
    mine = {id(param) for param in model.parameters()}
    if not all(id(param) in mine for param in optimizer.params):
        raise ValueError(
            "the optimizer updates parameters that are not this model's; build it with "
            "sg.SGD(model.parameters(), ...) for the model you train"
        )


def params_finite(optimizer: SGD) -> bool:
    return all(np.isfinite(param.data).all() for param in optimizer.params)


def warm_up(model: MLP, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
    """One step's forward and backward on a copy, so the kernels' first-call cost
    (Numba loading or compiling them) is paid before the clock starts."""
    twin = copy.deepcopy(model)
    loss_fn = MSELoss()
    loss_fn(twin(x[:batch_size]), y[:batch_size])
    twin.backward(loss_fn.backward())


class Recorder:
    """The History being written, the clock that leaves evaluations out, and the bar."""

    def __init__(self, history: History, model: MLP, evaluate, every: int) -> None:
        self.history = history
        self.model = model
        self.evaluate = evaluate
        self.every = every  # steps between evaluations; ``steps`` when there is no evaluate
        self.bar = None  # the progress bar, once ``train`` has drawn it
        self.step = 0
        self.samples = 0
        self.paused = 0.0
        self.start = time.perf_counter()

    def clock(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def start_clock(self) -> None:
        self.start, self.paused = time.perf_counter(), 0.0

    def look(self) -> None:
        """Evaluate now (unless just done), with the clock paused."""
        history = self.history
        if self.evaluate is None:
            return
        if history.evaluations and history.evaluations[-1].step == self.step:
            return
        at, began = self.clock(), time.perf_counter()
        metrics = self.evaluate(self.model)
        history.evaluations.append(Evaluation(self.step, self.samples, at, metrics))
        self.paused += time.perf_counter() - began

    def steps(self, losses: np.ndarray, sizes: np.ndarray, seconds: np.ndarray) -> None:
        """Record ``len(losses)`` finished steps with their batch sizes and end times."""
        count, at = len(losses), self.step
        self.history.loss[at : at + count] = losses
        self.history.samples_seen[at : at + count] = self.samples + np.cumsum(sizes)
        self.history.seconds[at : at + count] = seconds
        self.samples += int(np.sum(sizes))
        self.step += count
        self.bar.update(count)

    def one_step(self, loss: float, size: int) -> None:
        history, at = self.history, self.step
        history.loss[at], history.seconds[at] = loss, self.clock()
        self.samples += size
        history.samples_seen[at] = self.samples
        self.step += 1
        self.bar.update(1)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def finish(self) -> History:
        history, step = self.history, self.step
        history.loss = history.loss[:step]
        history.samples_seen = history.samples_seen[:step]
        history.seconds = history.seconds[:step]
        if history.diverged_at is None and not history.interrupted:
            self.look()
        return history


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
    engine: str = "layers",
    progress: bool = True,
    desc: str | None = None,
    evaluate: Callable[[MLP], dict[str, float]] | None = None,
    eval_every: int | None = None,
) -> History:
    """Train ``model`` on (x, y) with mean squared error for ``steps`` optimiser steps.

    Each step: pick a batch (see ``reference.sampling``), clear gradients, run forward,
    measure the loss, run backward, update (``reference.loop.training_steps``). Training
    stops early, keeping the history so far, at the first step whose loss or whose updated
    parameters are not finite (``history.diverged_at`` is that step; the history holds
    the finite steps before it) or on Ctrl-C (``history.interrupted``).

    ``engine``: "layers" (the reference loop, default) or "compiled" (the fused Numba
    twin; "auto" picks it when it applies). ``history.engine`` says which ran and
    ``history.info["backend"]`` which matmul backend the layers used. The compiled engine
    times whole chunks of steps, so there ``history.seconds`` is spread over each chunk.

    ``evaluate(model)``, if given, runs before the first step, every ``eval_every`` steps
    and after the last one, with the clock paused; its metrics land in
    ``history.evaluations``. Use it for losses that do not depend on the batch drawn, such
    as the loss over all the data or over a validation set.
    """
    check_pair(model, optimizer)
    chosen = choose_engine(engine, model, optimizer)
    steps = checks.whole_number("steps", steps, 1)
    batch_size = checks.whole_number("batch_size", batch_size, 1)
    seed = checks.whole_number("seed", seed, 0)
    if eval_every is not None:
        eval_every = checks.whole_number("eval_every", eval_every, 1)
    if sampling not in MODES:
        raise ValueError(f"unknown sampling mode {sampling!r}; choose one of {', '.join(MODES)}")
    x, y = check_data(model, x, y)
    checks.fits_in_memory(f"a history of {steps:,} steps", steps, 24)
    # Both engines draw with the compiled twin of the reference shuffle: the same batches.
    sampler = BatchSampler(
        len(x),
        batch_size,
        mode=sampling,
        seed=seed,
        drop_last=drop_last,
        shuffle=first_of_shuffle,
    )
    history = History(
        np.empty(steps),
        np.empty(steps, dtype=np.int64),
        np.empty(steps),
        batch_size,
        len(x),
        sampling,
        engine=chosen,
    )
    history.info["backend"] = str(getattr(model, "backend", "numpy"))
    every = eval_every if evaluate is not None and eval_every else steps
    recorder = Recorder(history, model, evaluate, every)
    try:  # the bar is drawn inside: Ctrl-C the moment it appears is still a stop at step 0
        recorder.bar = tqdm(total=steps, desc=desc, disable=not progress, unit="step", leave=False)
        if chosen == "compiled":
            _run_compiled(recorder, model, optimizer, x, y, sampler, steps)
        else:
            _run_layers(recorder, model, optimizer, x, y, sampler, steps)
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        recorder.close_bar()
    return recorder.finish()


def _batches(sampler: BatchSampler, steps: int, every: int) -> Iterator[np.ndarray]:
    """The next ``steps`` batches, drawn in chunks that end at evaluation points."""
    done = 0
    while done < steps:
        count = min(CHUNK_STEPS, steps - done, every - done % every)
        indices, starts = sampler.next_chunk(count)
        for k in range(count):
            yield indices[starts[k] : starts[k + 1]]
        done += count


def _run_layers(recorder: Recorder, model, optimizer, x, y, sampler, steps) -> None:
    """The reference steps, each timed and recorded as it finishes."""
    history = recorder.history
    batches = _batches(sampler, steps, recorder.every)
    warm_up(model, x, y, sampler.batch_size)
    recorder.start_clock()
    recorder.look()
    size = np.empty(1, dtype=np.int64)
    # Overflow is not an accident to warn about here: divergence is checked for, step by step.
    with np.errstate(over="ignore", invalid="ignore"):
        for loss in training_steps(model, optimizer, MSELoss(), x, y, _sized(batches, size)):
            if not params_finite(optimizer):
                history.diverged_at, history.info["not_finite"] = recorder.step, "parameters"
                return
            recorder.one_step(loss, int(size[0]))
            if recorder.step % recorder.every == 0:
                recorder.look()
    if recorder.step < steps:  # the loop ended early: a loss that was not finite
        history.diverged_at, history.info["not_finite"] = recorder.step, "loss"


def _sized(batches: Iterator[np.ndarray], size: np.ndarray) -> Iterator[np.ndarray]:
    """The batches, noting the size of the current one in ``size[0]``: the reference loop
    takes the batches itself, so this is how the recorder counts samples seen."""
    for batch in batches:
        size[0] = len(batch)
        yield batch


def _run_compiled(recorder: Recorder, model, optimizer, x, y, sampler, steps) -> None:
    """Chunks of steps in one compiled call each, sized to about CHUNK_SECONDS."""
    history = recorder.history
    runner = CompiledEngine(model, optimizer, x, y, sampler.batch_size)  # loads: off the clock
    rate = None  # steps per second, once measured
    indices, starts = sampler.next_chunk(min(FIRST_CHUNK_STEPS, steps, recorder.every))
    recorder.start_clock()
    recorder.look()
    losses, in_chunk = np.empty(0), False
    try:
        while True:
            count = len(starts) - 1
            began = recorder.clock()
            losses = np.empty(count)
            in_chunk = True
            done, broken = runner.run(indices, starts, losses)
            in_chunk = False
            ended = recorder.clock()
            times = began + (ended - began) * np.arange(1, done + 1) / max(done, 1)
            recorder.steps(losses[:done], np.diff(starts[: done + 1]), times)
            if broken:
                history.diverged_at, history.info["not_finite"] = recorder.step, broken
                break
            if ended > began:
                rate = done / (ended - began)
            if recorder.step % recorder.every == 0:
                recorder.look()
            if recorder.step >= steps:
                break
            by_time = FIRST_CHUNK_STEPS if rate is None else max(1, int(rate * CHUNK_SECONDS))
            left, to_look = steps - recorder.step, recorder.every - recorder.step % recorder.every
            indices, starts = sampler.next_chunk(max(1, min(CHUNK_STEPS, left, to_look, by_time)))
    except KeyboardInterrupt:
        runner.store()
        if in_chunk and runner.done:  # keep the steps the interrupted chunk finished
            done = runner.done
            sizes = np.diff(starts[: done + 1])
            recorder.steps(losses[:done], sizes, np.full(done, recorder.clock()))
        raise
    finally:
        history.info.update(runner.describe())
