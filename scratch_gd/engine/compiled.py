"""The compiled engine's Python side: when it applies, and moving state in and out of it.

``train(..., engine="compiled")`` hands whole chunks of steps to ``loop.train_steps``.
That loop keeps every parameter, gradient and momentum buffer in one flat array of its
own (``state.Net``); ``CompiledEngine`` copies the model's ``Parameter.data`` and the optimiser's
``velocity`` in when it is created and copies them back after every chunk, so between
chunks (when evaluations run, or after Ctrl-C) the model and the optimiser hold exactly
the state the layer-by-layer path would have left, and training can go on with either
engine.
"""

from __future__ import annotations

import itertools
import time

import numba
import numpy as np

from ..reference.mlp import MLP
from ..reference.sgd import SGD
from .columns import BLOCK_SAMPLES
from .loop import COLUMNS, ROWS, STATUS_LOSS_NOT_FINITE, STATUS_OK, train_steps
from .state import FIRST_STEP, PARTS, Net, Sgd, Work, make_rows_work

COLUMNS_MIN_BATCH = 32  # from this batch size on the feature-major pass is faster (measured)
THREADS: int | None = None  # threads sharing a large batch; None: 1 or all, by speed
RETRY_EVERY = 8  # chunks between two tries of the thread count that was slower
TRIAL_STEPS = 4  # steps such a try takes
NOT_FINITE_LOSS = "loss"
NOT_FINITE_PARAMS = "parameters"


def why_not_compiled(model: object, optimizer: object) -> str | None:
    """None if the compiled engine can train this pair, else the reason it cannot."""
    if type(model) is not MLP:
        return f"the model is a {type(model).__name__}, not a scratch_gd.MLP"
    if type(optimizer) is not SGD:
        return f"the optimizer is a {type(optimizer).__name__}, not a scratch_gd.SGD"
    params = model.parameters()
    if len(optimizer.params) != len(params) or any(
        mine is not theirs for mine, theirs in zip(optimizer.params, params, strict=False)
    ):
        return "the optimizer does not update exactly model.parameters(), in that order"
    shapes: list[tuple[int, ...]] = []
    for fan_in, fan_out in itertools.pairwise(model.sizes):
        shapes += [(fan_out, fan_in), (fan_out,)]
    for param, shape in zip(params, shapes, strict=True):
        if param.data.dtype != model.dtype or param.grad.dtype != model.dtype:
            return f"a parameter is {param.data.dtype}, but the model is {model.dtype}"
        if param.data.shape != shape or param.grad.shape != shape:
            return f"a parameter has shape {param.data.shape} where the sizes need {shape}"
    started = [velocity is not None for velocity in optimizer.velocity]
    if any(started) and not all(started):
        return "the optimizer has momentum buffers for some parameters but not others"
    return None


class CompiledEngine:
    """Flat copies of one model's parameters, gradients and momentum, and the work buffers.

    Work buffers are sized once, for ``max_batch`` samples, so no step allocates memory.
    """

    times_each_step = False  # the loop runs without Python, so only whole chunks are timed

    def __init__(
        self, model: MLP, optimizer: SGD, x: np.ndarray, y: np.ndarray, max_batch: int
    ) -> None:
        self.model, self.optimizer, self.x, self.y = model, optimizer, x, y
        dtype = model.dtype
        self.params_list = model.parameters()
        sizes = np.asarray(model.sizes, dtype=np.int64)
        self.sizes = sizes
        lengths = [param.data.size for param in self.params_list]
        self.offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=self.offsets[1:])
        total = int(self.offsets[-1])
        self.params = np.empty(total, dtype)
        self.grads = np.zeros(total, dtype)
        self.velocity = np.zeros(total, dtype)
        # Small batches run batch-major, large ones feature-major in blocks that threads
        # may share (see loop.py); how many threads is settled by ``_pick_parts``.
        self.layout = COLUMNS if max_batch >= COLUMNS_MIN_BATCH else ROWS
        max_blocks = -(-max_batch // BLOCK_SAMPLES)
        self.max_parts = 1
        if self.layout == COLUMNS and max_blocks > 1:
            threads = THREADS if THREADS is not None else numba.get_num_threads()
            self.max_parts = max(1, min(threads, max_blocks))
        self.seconds_per_step = {}  # parts -> recent seconds per step, measured
        self.steps_per_parts = {}  # parts -> steps run that way
        self.chunks = 0
        self.next_trial, self.trial_gap = 1, RETRY_EVERY // 2  # first trial: first chunk
        self.interrupted_at = 0  # steps of the current chunk done before its last call
        # Room, per part, for every layer's activations a_0 .. a_L of the samples it
        # holds at once: the whole batch, or one block of it.
        columns = max_batch if self.layout == ROWS else min(max_batch, BLOCK_SAMPLES)
        self.act_offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes * columns, out=self.act_offsets[1:])
        parts = self.max_parts
        self.acts = np.empty((parts, int(self.act_offsets[-1])), dtype)
        widest = int(sizes.max())
        self.delta = np.empty((parts, columns * widest), dtype)
        self.delta_prev = np.empty((parts, columns * widest), dtype)
        largest_weight = int(max(a * b for a, b in itertools.pairwise(sizes)))
        self.scratch = np.empty((parts, largest_weight), dtype)
        blocks = max_blocks if self.layout == COLUMNS and max_blocks > 1 else 0
        self.grad_blocks = np.empty((blocks, total), dtype)
        self.squared_blocks = np.empty(max(blocks, 1))
        self.zeros = np.zeros(widest, dtype)
        scalar = dtype.type
        # Rounded to the dtype first, as torch (and sgd.py, through NumPy) does.
        self.hyper = np.array(
            [
                scalar(optimizer.lr),
                scalar(optimizer.momentum),
                scalar(1 - optimizer.dampening),
                scalar(optimizer.weight_decay),
            ],
            dtype=dtype,
        )
        self.flags = np.array(
            [optimizer.nesterov, optimizer.maximize, optimizer.velocity[0] is None, 1],
            dtype=np.int64,
        )
        self.status = np.zeros(2, dtype=np.int64)
        for param, start, stop in self._slices():
            self.params[start:stop] = param.data.reshape(-1)
            self.grads[start:stop] = param.grad.reshape(-1)
        if not self.flags[FIRST_STEP]:
            for velocity, (_, start, stop) in zip(optimizer.velocity, self._slices(), strict=True):
                self.velocity[start:stop] = velocity.reshape(-1)
        self.net = Net(self.sizes, self.offsets, self.params, self.grads, self.velocity)
        self.sgd = Sgd(self.hyper, self.flags)
        if self.layout == ROWS:
            self.work = make_rows_work(self.net, max_batch)
        else:
            self.work = Work(
                self.acts, self.act_offsets, self.delta, self.delta_prev, self.scratch, self.zeros
            )
        # A call with no steps loads the compiled loop (from Numba's cache, or compiles
        # it) now, before ``train`` starts its clock.
        self._steps(np.empty(0, np.int64), np.zeros(1, np.int64), np.empty(0), 1)

    def describe(self) -> dict[str, object]:
        """How this engine ran the steps, for ``history.info``."""
        layout = "feature-major" if self.layout == COLUMNS else "batch-major"
        return {"layout": layout, "steps_per_thread_count": dict(self.steps_per_parts)}

    def _plan(self, steps: int) -> list[tuple[int, int]]:
        """(threads, steps) for the pieces of the next chunk of ``steps`` steps.

        Mostly one piece on the thread count measured fastest so far. But on the first
        chunk, and again after a while, the first TRIAL_STEPS steps try the other count,
        since the load from other programs may have changed: on a busy machine two
        threads can be many times slower than one, on an idle one nearly twice as fast.
        The wait between trials doubles each time, from RETRY_EVERY chunks up to 64 times
        that, so a long run wastes little on them. Either way the result is the same.
        """
        if self.max_parts == 1 or THREADS is not None:
            return [(self.max_parts, steps)]
        settings = (1, self.max_parts)
        best = min(settings, key=lambda parts: self.seconds_per_step.get(parts, 0.0))
        other = settings[1] if best == settings[0] else settings[0]
        self.chunks += 1
        if self.chunks < self.next_trial or steps <= TRIAL_STEPS:
            return [(best, steps)]
        self.trial_gap = min(self.trial_gap * 2, 64 * RETRY_EVERY)
        self.next_trial = self.chunks + self.trial_gap
        return [(other, TRIAL_STEPS), (best, steps - TRIAL_STEPS)]

    def _slices(self):
        for index, param in enumerate(self.params_list):
            yield param, int(self.offsets[index]), int(self.offsets[index + 1])

    @property
    def done(self) -> int:
        """Steps finished by the last chunk (read after Ctrl-C)."""
        return self.interrupted_at

    def run(
        self,
        indices: np.ndarray,
        starts: np.ndarray,
        losses: np.ndarray,
        seconds: np.ndarray | None = None,
        clock: object = None,
    ) -> tuple[int, str]:
        """Train on the batches ``indices[starts[k]:starts[k + 1]]``, writing ``losses[k]``.

        ``seconds`` and ``clock`` are ignored (see ``times_each_step``); they keep the
        signature of ``LayerEngine.run``.

        Returns (steps completed, "" or what stopped being finite). The model and the
        optimiser are brought up to date before returning, even on Ctrl-C.
        """
        done, code = 0, STATUS_OK
        try:
            for parts, count in self._plan(len(starts) - 1):
                piece = slice(done, done + count + 1)
                piece_done, code = self._steps(indices, starts[piece], losses[done:], parts)
                done += piece_done
                if code != STATUS_OK:
                    break
        finally:
            # A Ctrl-C can only land after a compiled call has returned: if its count was
            # not taken yet, the status array still holds it.
            self.interrupted_at = done + int(self.status[0])
            if code == STATUS_LOSS_NOT_FINITE:
                self.grads[:] = 0  # as the layer path leaves them: zeroed, then no backward
            self.store()
        return done, ("", NOT_FINITE_LOSS, NOT_FINITE_PARAMS)[code]

    def _steps(
        self, indices: np.ndarray, starts: np.ndarray, losses: np.ndarray, parts: int
    ) -> tuple[int, int]:
        """One compiled call on ``parts`` threads; returns (steps completed, STATUS_*)."""
        self.status[:] = 0
        self.flags[PARTS] = parts
        began = time.perf_counter()
        train_steps(self.x, self.y, indices, starts, self.net, self.sgd, self.work,
                    self.grad_blocks, self.squared_blocks, losses, self.status,
                    self.layout)  # fmt: skip
        done, code = int(self.status[0]), int(self.status[1])
        self.status[0] = 0  # counted: from here on ``run`` holds it
        if done:
            self.steps_per_parts[parts] = self.steps_per_parts.get(parts, 0) + done
            self.seconds_per_step[parts] = (time.perf_counter() - began) / done
        return done, code

    def store(self) -> None:
        """Copy parameters, last gradients and momentum buffers back into the model."""
        for param, start, stop in self._slices():
            param.data[...] = self.params[start:stop].reshape(param.data.shape)
            param.grad[...] = self.grads[start:stop].reshape(param.grad.shape)
        if self.hyper[1] != 0 and not self.flags[FIRST_STEP]:
            velocities = self.optimizer.velocity
            for index, (param, start, stop) in enumerate(self._slices()):
                flat = self.velocity[start:stop].reshape(param.data.shape)
                if velocities[index] is None:
                    velocities[index] = flat.copy()
                else:
                    velocities[index][...] = flat
