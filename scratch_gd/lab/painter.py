"""Figures drawn in other processes while training runs, and written here, whole.

A ``Painter`` forks worker processes before training starts. They load matplotlib on the
other core while this one trains, then render figures to PNG bytes, each as soon as its
data exists. This process writes every file itself, in order and atomically, after the
run's records, so the promises of ``cli/finish.py`` hold as if it drew them itself.

A figure is a ``FigureJob``: the file it goes to, and its drawing function *by name*, so
the process that plans the figures never has to load matplotlib. A job a worker cannot
deliver (it failed, died or went silent) is rendered here; so is every job when there are
no workers (not Linux, ``SCRATCH_GD_FIGURE_WORKERS=0``, no process to be had): the same
function, the same bytes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np

from ..store.files import atomic_write_bytes

WORKERS = 2  # this project's machines have two cores: one trains, both then draw
STALL_SECONDS = 120.0  # not a word from any worker for this long: they are stuck
WORKERS_VARIABLE = "SCRATCH_GD_FIGURE_WORKERS"  # 0 draws every figure in the training process


def figure_workers() -> int:
    """How many workers a Painter starts: ``$SCRATCH_GD_FIGURE_WORKERS``, else 2."""
    text = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not text:
        return WORKERS
    if not text.isdigit():
        warnings.warn(
            f"{WORKERS_VARIABLE}={text!r} is not a whole number of processes (0, 1, 2...); "
            f"drawing with {WORKERS}",
            stacklevel=2,
        )
        return WORKERS
    return int(text)


@dataclass(frozen=True)
class FigureJob:
    """One figure: its file name, and ``"module:function"`` returning a matplotlib Figure."""

    file: str
    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def render(self) -> bytes:
        """Draw the figure and return it as PNG bytes (nothing is written)."""
        from .race_plots import png_bytes  # matplotlib loads here, not where jobs are planned

        module, name = self.function.split(":")
        draw = getattr(importlib.import_module(module), name)
        with quiet_drawing():
            return png_bytes(draw(*self.args, **self.kwargs))


@contextlib.contextmanager
def quiet_drawing() -> Iterator[None]:
    """Silence NumPy's floating-point warnings while figures are drawn: the numbers were
    checked and reported before (divergence, data warnings), so these would only repeat it."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --- The workers ----------------------------------------------------------------------------
# The first worker is forked from this process, loads matplotlib once and forks the others
# from itself, so that loading is paid once, not once per worker. Each worker has its own
# pipe; this process sends a job only to a worker that said it is ready and idle, so a
# send never waits on a busy worker, and a worker that dies is seen as its pipe's end.


def _first_worker(pipes: list[Connection]) -> None:
    try:
        _prepare_worker()
        for pipe in pipes[1:]:
            if os.fork() == 0:  # a copy, with matplotlib already loaded
                _die_with_parent()
                _keep_only(pipe, pipes)
                _serve(pipe)
                os._exit(0)
    except Exception:  # noqa: BLE001 (say nothing: the parent sees the pipes close, draws itself)
        os._exit(1)
    _keep_only(pipes[0], pipes)
    _serve(pipes[0])


def _keep_only(mine: Connection, pipes: list[Connection]) -> None:
    for pipe in pipes:  # a pipe's end held by another process would hide that it died
        if pipe is not mine:
            pipe.close()


def _serve(pipe: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):  # the parent is gone or done: so is this
        pipe.send(("ready", os.getpid()))
        while (job := pipe.recv()) is not None:
            try:
                pipe.send(("done", job.render()))
            except Exception:  # noqa: BLE001 (rendered again in the parent, which raises it)
                pipe.send(("failed", None))


def _prepare_worker() -> None:
    # Ctrl-C reaches every process of the terminal's group: only the parent decides what
    # a stop means (it keeps what was computed), so a worker ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    # Background work: while the parent trains, it keeps its core and its timings.
    os.nice(10)
    from . import race_plots

    race_plots.warm_up()  # matplotlib loaded, its fonts read: the first figure is not slower
    # What is loaded now lives as long as the worker: a full garbage collection would walk
    # all of it (the parent's Numba too) again, about 80 ms each time.
    gc.freeze()


def _die_with_parent() -> None:
    """Ask Linux to end this worker if its parent is killed outright (SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not glibc: the parent's close() still ends it
        pass


class Painter:
    """Worker processes that render ``FigureJob``s; ``paint`` writes what they return.

    Use it as a context manager around training and the figures: the workers start on
    entry and are ended on exit, whatever happens in between.
    """

    def __init__(self, workers: int | None = None) -> None:
        workers = figure_workers() if workers is None else workers
        self._pipes: list[Connection] = []  # this process's end of each worker's pipe
        self._idle: list[Connection] = []
        self._busy: dict[Connection, int] = {}  # pipe -> the job it renders
        self._pids: list[int] = []
        self._queue: list[int] = []  # jobs waiting for a worker
        self._jobs: list[FigureJob] = []  # every job started; a ticket is an index here
        self._by_file: dict[str, int] = {}  # the latest ticket for each file
        self._rendered: dict[int, bytes | None] = {}  # None: render it here
        self._process = None
        if workers < 1 or not sys.platform.startswith("linux"):
            return  # fork is the cheap start (the workers inherit every loaded module)
        context = get_context("fork")
        try:
            ends = [context.Pipe() for _ in range(workers)]
            with warnings.catch_warnings():
                # Python 3.12+ warns that forking a process with threads (OpenBLAS's idle
                # pool) may deadlock; a worker only draws, and never calls BLAS threads.
                warnings.simplefilter("ignore", DeprecationWarning)
                self._process = context.Process(
                    target=_first_worker, args=([end for _, end in ends],), daemon=True
                )
                self._process.start()
        except OSError:  # no processes to be had (limits): draw here
            self._process = None
            return
        for mine, theirs in ends:
            theirs.close()
            self._pipes.append(mine)

    @property
    def parallel(self) -> bool:
        return bool(self._pipes)

    def start(self, jobs: list[FigureJob]) -> list[int]:
        """Queue ``jobs`` for the workers; returns a ticket for each.

        A job that an earlier call already started (same file, same function, the same
        objects or equal arrays as arguments) is not started again: its first rendering
        is used.
        """
        tickets = []
        for job in jobs:
            earlier = self._by_file.get(job.file)
            if earlier is not None and _same(self._jobs[earlier], job):
                tickets.append(earlier)
                continue
            self._jobs.append(job)
            self._by_file[job.file] = len(self._jobs) - 1
            tickets.append(len(self._jobs) - 1)
            if self._pipes:  # with no workers, ``result`` renders it here
                self._queue.append(tickets[-1])
        if self._pipes:
            self._poll(timeout=0)
        return tickets

    def result(self, ticket: int) -> bytes:
        """The PNG bytes of a started job, waiting for its worker (or rendering it here)."""
        while ticket not in self._rendered and self._pipes:
            if not self._poll(timeout=STALL_SECONDS):
                self.close()  # stuck (a deadlock, a machine out of memory): draw here
        data = self._rendered.get(ticket)
        return data if data is not None else self._jobs[ticket].render()

    def _poll(self, timeout: float | None) -> bool:
        """Read what workers sent (waiting up to ``timeout``), then give idle ones work;
        whether anything was heard."""
        heard = wait(self._pipes, timeout)
        for pipe in heard:
            try:
                kind, payload = pipe.recv()
            except (EOFError, OSError):  # the worker died; its job is drawn here
                self._lose(pipe)
                continue
            if kind == "ready":
                self._pids.append(payload)
            else:
                self._rendered[self._busy.pop(pipe)] = payload if kind == "done" else None
            self._idle.append(pipe)
        while self._idle and self._queue:
            pipe, ticket = self._idle.pop(), self._queue.pop(0)
            try:
                pipe.send(self._jobs[ticket])
            except OSError:
                self._lose(pipe)
                self._queue.insert(0, ticket)
                continue
            self._busy[pipe] = ticket
        return bool(heard)

    def _lose(self, pipe: Connection) -> None:
        if pipe in self._busy:
            self._rendered[self._busy.pop(pipe)] = None
        if pipe in self._idle:
            self._idle.remove(pipe)
        self._pipes.remove(pipe)
        pipe.close()

    def close(self) -> None:
        """End the workers: at once (they only ever hold figures not yet written)."""
        for pid in self._pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pipe in self._pipes:
            pipe.close()
        self._pipes.clear()
        if self._process is not None:
            self._process.kill()  # in case it had not yet said it was ready
            self._process.join()
            self._process = None

    def __enter__(self) -> Painter:  # noqa: PYI034 (typing.Self is Python 3.11+)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _same(first: FigureJob, second: FigureJob) -> bool:
    return first.function == second.function and _equal(
        (first.args, first.kwargs), (second.args, second.kwargs)
    )


def _equal(a: object, b: object) -> bool:
    """The same object, or equal numbers, strings and arrays, or containers of equal items:
    a figure planned twice (its inputs computed again) is still the same figure."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, int | float | str):
        return a == b
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[key], b[key]) for key in a)
    return False  # anything else (a model, a history) counts only as the very same object


def paint(jobs: list[FigureJob], out: Path, painter: Painter | None = None) -> list[Path]:
    """Render every job (by ``painter``'s workers when there are any, else here) and
    write each PNG into ``out`` atomically, in the order given; returns the paths."""
    painter = painter if painter is not None else Painter(workers=0)
    tickets = painter.start(jobs)
    return [
        atomic_write_bytes(out / job.file, painter.result(ticket))
        for job, ticket in zip(jobs, tickets, strict=True)
    ]
