"""Every run records itself: what was run, on what, with which numbers came out.

A figure on its own cannot be checked. Beside each figure a command writes

- ``<command>.json``: the command line, the full configuration, the seed, library
  versions, the machine, how long each part took, the results and the figure names;
- ``<command>_history.csv``: every step of every run in long form
  (``run,step,loss,samples_seen,seconds``), so a curve can be re-plotted without
  re-training (``read_history_csv``);
- ``<command>_evaluations.csv``: the evaluations made with the clock paused
  (``run,step,samples_seen,seconds,<metric>...``), when there are any.

In the history CSV ``step`` is the step index k (0-based) and ``loss`` the batch loss
measured before that step's update, as in ``History``. In the evaluations CSV ``step`` is
the number of optimiser steps taken before the evaluation.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import platform
import re
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..run.history import History
from .files import TooLarge, atomic_write_text, read_bounded

HISTORY_COLUMNS = ("run", "step", "loss", "samples_seen", "seconds")
EVALUATION_COLUMNS = ("run", "step", "samples_seen", "seconds")
INTEGER_COLUMNS = frozenset({"step", "samples_seen"})
MAX_HISTORY_BYTES = 1024 * 1024 * 1024  # read_history_csv reads no more than this
ALWAYS_VERSIONED = ("numpy", "numba", "matplotlib", "tqdm", "scratch_gd")
VERSIONED_IF_IMPORTED = {"torch": "torch", "sklearn": "scikit-learn"}  # module -> distribution


def json_safe(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON types: NumPy scalars and arrays, Paths, tuples converted.

    Non-finite floats become ``null``: strict JSON has no NaN or infinity, and a reader in
    another language would choke on Python's ``NaN`` token. Anything else unknown is an
    error naming where it sits, rather than a silent ``str()``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), where)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_safe(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [json_safe(item, f"{where}[{index}]") for index, item in enumerate(items)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        return json_safe(fields, where)
    raise TypeError(
        f"{where} is a {type(value).__name__}, which cannot be recorded as JSON; "
        "convert it to numbers, strings, lists or dicts first"
    )


def library_versions() -> dict[str, str]:
    """Versions of the libraries a run depends on; torch and scikit-learn only if imported."""
    versions = {"python": platform.python_version()}
    names = list(ALWAYS_VERSIONED)
    names += [dist for module, dist in VERSIONED_IF_IMPORTED.items() if module in sys.modules]
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # e.g. running from a source tree, uninstalled
            versions[name] = "not installed"
    return versions


def blas_info() -> dict[str, str] | None:
    """Which BLAS NumPy was built with (it sets the speed of every matmul), if NumPy says."""
    try:
        config = np.show_config(mode="dicts")  # NumPy >= 1.25; older ones only print
    except TypeError:
        return None
    blas = (config or {}).get("Build Dependencies", {}).get("blas", {})
    keep = ("name", "version", "openblas configuration")
    return {key: str(blas[key]) for key in keep if key in blas} or None


def machine_info() -> dict[str, Any]:
    """The computer a run's timings come from."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "blas": blas_info(),
    }


def command_line(argv: list[str]) -> str:
    """``argv`` as a line to paste into a shell; ``python -m scratch_gd`` for the package."""
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "scratch_gd":
        argv = ["python", "-m", "scratch_gd", *argv[1:]]
    return shlex.join(argv)


def history_summary(history: History) -> dict[str, Any]:
    """The facts about one run that its per-step CSV rows do not say."""
    return {
        "steps": history.steps,
        "batch_size": history.batch_size,
        "n_samples": history.n_samples,
        "sampling": history.sampling,
        "engine": history.engine,
        "samples_seen": int(history.samples_seen[-1]) if history.steps else 0,
        "epochs": history.epochs,
        "seconds": history.total_seconds,
        "final_batch_loss": float(history.loss[-1]) if history.steps else None,
        "diverged_at": history.diverged_at,
        "interrupted": history.interrupted,
        "evaluations": len(history.evaluations),
        "info": history.info,
    }


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """A CSV table as text: the header row, then ``rows``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def number(value: float) -> str:
    """A float as CSV text that reads back exactly (repr round-trips; NumPy scalars too)."""
    return repr(float(value))


def historycsv_text(histories: dict[str, History]) -> str:
    """One row per step per run: ``run,step,loss,samples_seen,seconds``."""
    rows = []
    for run, history in histories.items():
        for step in range(history.steps):
            rows.append(
                [
                    run,
                    step,
                    number(history.loss[step]),
                    int(history.samples_seen[step]),
                    number(history.seconds[step]),
                ]
            )
    return csv_text(list(HISTORY_COLUMNS), rows)


def evaluationscsv_text(histories: dict[str, History]) -> str:
    """One row per evaluation per run; a metric a run did not measure is left empty."""
    metrics: list[str] = []
    for history in histories.values():
        for evaluation in history.evaluations:
            metrics += [name for name in evaluation.metrics if name not in metrics]
    clash = set(metrics) & set(EVALUATION_COLUMNS)
    if clash:
        raise ValueError(
            f"metric names {sorted(clash)} clash with the CSV's own columns; rename them"
        )
    rows = []
    for run, history in histories.items():
        for evaluation in history.evaluations:
            measured = [
                number(evaluation.metrics[name]) if name in evaluation.metrics else ""
                for name in metrics
            ]
            rows.append(
                [
                    run,
                    evaluation.step,
                    evaluation.samples_seen,
                    number(evaluation.seconds),
                    *measured,
                ]
            )
    return csv_text([*EVALUATION_COLUMNS, *metrics], rows)


def check_command_name(command: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", command):
        raise ValueError(
            f"command name {command!r} must be lower-case letters, digits and underscores "
            f"(it names files), e.g. {re.sub(r'[^a-z0-9_]', '_', command.lower())!r}"
        )
    return command


def write_run_record(
    out: Path,
    command: str,
    config: dict,
    *,
    seed: int,
    timings: dict[str, float],
    histories: dict[str, History] | None = None,
    results: dict | None = None,
    figures: list[Path] | None = None,
) -> list[Path]:
    """Write ``out/<command>.json`` (and the history CSVs when histories are given).

    Every file is written atomically. Returns the paths written, JSON first. ``out`` must
    exist: a folder deleted during a run is an ``OutputError``, not silently made again.
    """
    check_command_name(command)
    out = Path(out)
    histories = histories or {}
    record = {
        "command": command,
        "argv": list(sys.argv),
        "command_line": command_line(sys.argv),
        "config": json_safe(config, "config"),
        "seed": json_safe(seed, "seed"),
        "versions": library_versions(),
        "machine": machine_info(),
        "timings": json_safe(timings, "timings"),
        "results": json_safe(results or {}, "results"),
        "runs": json_safe({run: history_summary(h) for run, h in histories.items()}, "runs"),
        "figures": [Path(figure).name for figure in figures or []],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # Build every text before writing any file, so a bad value leaves no partial record.
    texts = {out / f"{command}.json": json.dumps(record, indent=2, allow_nan=False) + "\n"}
    if histories:
        texts[out / f"{command}_history.csv"] = historycsv_text(histories)
        if any(history.evaluations for history in histories.values()):
            texts[out / f"{command}_evaluations.csv"] = evaluationscsv_text(histories)
    return [atomic_write_text(path, text) for path, text in texts.items()]


def record_figures(path: str | Path, figures: list[Path]) -> Path:
    """Add the names of ``figures`` to the JSON record at ``path`` (written before them, so
    the record survives when a figure cannot be written)."""
    path = Path(path)
    record = json.loads(path.read_text(encoding="utf-8"))
    record["figures"] = [Path(figure).name for figure in figures]
    return atomic_write_text(path, json.dumps(record, indent=2, allow_nan=False) + "\n")


def read_history_csv(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Read a history or evaluations CSV back: ``{run: {column: array}}``.

    ``step`` and ``samples_seen`` come back as integers, every other column as floats
    (an empty cell, a metric that run did not measure, as NaN). Runs keep file order.
    """
    path = Path(path)
    try:  # count the bytes read: a pipe or device says its size is 0 and may never end
        text = read_bounded(path, MAX_HISTORY_BYTES).decode("utf-8")
    except TooLarge:
        raise ValueError(
            f"{path} is larger than {MAX_HISTORY_BYTES // 2**20} MB; not a run history CSV"
        ) from None
    with io.StringIO(text, newline="") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if not header or header[0] != "run":
            raise ValueError(f"{path} is not a run history CSV: its first column must be 'run'")
        columns: dict[str, dict[str, list[str]]] = {}
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise ValueError(
                    f"{path} line {line} has {len(row)} fields but the header has {len(header)}"
                )
            run = columns.setdefault(row[0], {name: [] for name in header[1:]})
            for name, cell in zip(header[1:], row[1:], strict=True):
                run[name].append(cell)
    return {
        run: {
            name: np.array(
                [int(cell) for cell in cells]
                if name in INTEGER_COLUMNS
                else [float(cell) if cell else math.nan for cell in cells],
                dtype=np.int64 if name in INTEGER_COLUMNS else np.float64,
            )
            for name, cells in table.items()
        }
        for run, table in columns.items()
    }
