"""How long ``make compare`` takes: warm, with an empty Numba cache, and where the time goes.

    python benchmarks/bench_compare.py           # 7 warm runs and 2 cold ones per mode
    python benchmarks/bench_compare.py --quick   # 1 of each, a short race (used by the tests)

Times the command ``make compare`` runs, ``python -m scratch_gd compare``, from the shell's
point of view (process start to exit), in two modes side by side in the same run:

* ``painter``: the default; the figures are drawn by two worker processes that load
  matplotlib while training runs (``scratch_gd/lab/painter.py``);
* ``in-process``: ``SCRATCH_GD_FIGURE_WORKERS=0``, every figure drawn by the training
  process after training, as before the painter.

Warm runs use the Numba cache the first run fills; cold runs each get an empty
``NUMBA_CACHE_DIR``, so every kernel is compiled again. Runs of the two modes alternate,
so a busy spell of a shared machine hits both. Each row gives the median and the range,
the part of it spent training as the run's own record says (``compare.json``), and what is
left after start-up and training (the figures still being drawn, and exit).
Writes ``compare_bench.md`` into ``--out`` (default ``runs/bench/``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = {"painter": {}, "in-process": {"SCRATCH_GD_FIGURE_WORKERS": "0"}}


def one_run(extra_env: dict[str, str], cache: str, args: list[str]) -> tuple[float, float, int]:
    """(wall seconds of the whole process, training seconds from its record, how many
    compiled kernels the Numba cache held when it started)."""
    cached = sum(1 for _ in Path(cache).rglob("*.nbi"))
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, **extra_env, "NUMBA_CACHE_DIR": cache}
        command = [sys.executable, "-m", "scratch_gd", "compare", "--out", out, *args]
        started = time.perf_counter()
        done = subprocess.run(
            command, check=False, cwd=ROOT, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"bench_compare: compare failed: {done.stderr.strip()[-300:]}")
        timings = json.loads((Path(out) / "compare.json").read_text())["timings"]
        return wall, float(timings["train_seconds"]), cached


def startup_seconds(runs: int) -> float:
    """Median wall time of ``compare --help``: the same process start and imports as a
    real run (``python -m scratch_gd``), then compare's flags, and exit."""
    command = [sys.executable, "-m", "scratch_gd", "compare", "--help"]
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def measure(warm_runs: int, cold_runs: int, args: list[str]) -> dict[tuple[str, str], list]:
    times: dict[tuple[str, str], list] = {}
    with tempfile.TemporaryDirectory() as warm_cache:
        for env in MODES.values():  # fills the warm cache, not counted
            one_run(env, warm_cache, args)
        for _ in range(warm_runs):
            for mode, env in MODES.items():
                times.setdefault((mode, "warm"), []).append(one_run(env, warm_cache, args))
    for _ in range(cold_runs):
        for mode, env in MODES.items():
            with tempfile.TemporaryDirectory() as cold_cache:
                times.setdefault((mode, "cold"), []).append(one_run(env, cold_cache, args))
    return times


def table(times: dict[tuple[str, str], list], startup: float) -> str:
    """One row per mode and cache; "after training" is what is left of each run once its
    start-up (imports) and training are taken away: the figures still drawing, and exit."""
    columns = ["mode", "Numba cache", "runs", "wall, median", "wall, range", "training, median",
               "after training, median", "kernels cached at start"]  # fmt: skip
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for (mode, cache), runs in times.items():
        walls = [wall for wall, _, _ in runs]
        training = statistics.median(train for _, train, _ in runs)
        after = statistics.median(wall - train - startup for wall, train, _ in runs)
        cached = min(count for _, _, count in runs)
        lines.append(
            f"| {mode} | {cache} | {len(runs)} | {statistics.median(walls):.2f} s | "
            f"{min(walls):.2f}-{max(walls):.2f} s | {training:.2f} s | {after:.2f} s | "
            f"{cached} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run each, a 20-step race")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench")
    options = parser.parse_args(argv)
    args = ["--steps", "20", "--no-progress"] if options.quick else []
    warm, cold = (1, 1) if options.quick else (7, 2)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    times = measure(warm, cold, args)
    startup = startup_seconds(warm)
    what = "python -m scratch_gd compare " + " ".join(args)
    text = (
        f"# make compare's time\n\n`{what.strip()}`, process start to exit; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load:.2f} at the start. "
        f"Start-up (`python -m scratch_gd compare --help`, median): {startup:.2f} s; "
        "training is the run's own `train_seconds`, Numba's loading of its kernels included.\n\n"
        f"{table(times, startup)}\n"
    )
    print(text)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "compare_bench.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
