"""The end of every command: write what was computed, say so, and choose the exit code.

One epilogue for all commands, so each keeps the same promise (docs/robustness.md):

1. The small records first (the CSV tables, ``<command>.json``, the history CSVs): they
   are what a run is for, and a few kilobytes still fit when a figure no longer does.
2. Then the figures, and their names added to the JSON record.
3. Every file is written whole or not at all (``store.files.atomic_write``); a failure is an
   ``OutputError`` that ``main`` turns into one line and ``exit_codes.IO_ERROR``.

It also holds how a stop is honoured. SIGINT (Ctrl-C), SIGTERM and SIGHUP all stop training
the same way (a ``KeyboardInterrupt`` the training loop notices, keeping the steps done);
while the records are being written a stop waits until they are whole (a second one stops
at once, discarding the file being written). The exit code is then 128 + the signal's number.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ..lab.painter import quiet_drawing
from ..run.history import History
from ..store.files import atomic_write_text
from ..store.record import record_figures, write_run_record
from . import exit_codes

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_state = {"received": None, "deferring": False}


def _on_stop(signum: int, frame: object) -> None:
    # No printing here: a handler that writes to stderr while the program is writing to it
    # would be a reentrant call. ``finish`` says what happened once the files are whole.
    first = _state["received"] is None
    _state["received"] = signum
    if _state["deferring"] and first:
        return
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Within this block SIGTERM and SIGHUP act like Ctrl-C; the old handlers come back after."""
    _state["received"] = None
    previous = {}
    for number in STOP_SIGNALS:
        try:
            previous[number] = signal.signal(number, _on_stop)
        except (ValueError, OSError):  # not the main thread: leave signals alone
            pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def stopped_by() -> int | None:
    """The number of the stop signal received since ``stop_signals`` began, if any."""
    return _state["received"]


def stop_code(default: int = exit_codes.INTERRUPTED) -> int:
    """128 + the signal that stopped the run (130 for Ctrl-C), by shell convention."""
    received = stopped_by()
    return default if received is None else exit_codes.SIGNAL_BASE + received


@contextlib.contextmanager
def whole_files() -> Iterator[None]:
    """A stop that arrives in here waits for the block to finish its files."""
    before, _state["deferring"] = _state["deferring"], True
    try:
        yield
    finally:
        _state["deferring"] = before


def finish(
    out: Path,
    command: str,
    config: dict,
    *,
    seed: int,
    timings: dict[str, float],
    histories: dict[str, History] | None = None,
    results: dict | None = None,
    tables: dict[str, str] | None = None,
    figures: Callable[[], list[Path]] | None = None,
    code: int = exit_codes.OK,
) -> int:
    """Write ``tables`` (file name -> CSV text) and the run record, then draw ``figures``
    (a function returning the paths it wrote); print what was written; return ``code``,
    or 128 + N if signal N stopped the run.

    A stop that arrived during training leaves the figures to be drawn (of the steps
    done); one that arrives while the records are written skips them; one during the
    figures discards the figure being written.
    """
    stopped_before = stopped_by()  # a stop during training still gets its figures, like Ctrl-C
    with whole_files():
        written = [atomic_write_text(out / name, text) for name, text in (tables or {}).items()]
        written += write_run_record(
            out,
            command,
            config,
            seed=seed,
            timings=timings,
            histories=histories,
            results=results,
        )
    drawn: list[Path] = []
    if stopped_by() != stopped_before:
        print(
            f"scratch_gd: {signal.Signals(stopped_by()).name} received while writing the "
            "records; they are whole, the figures are skipped",
            file=sys.stderr,
        )
    elif figures is not None:
        with quiet_drawing():
            drawn = figures()
        with whole_files():
            record_figures(out / f"{command}.json", drawn)
    names = [path.name for path in [*drawn, *written]]
    print(f"wrote {', '.join(names)} to {out}/")
    if stopped_by() is not None:
        return stop_code()
    return code
