"""GFLOP/s of the matmul ladder against NumPy's BLAS, on this machine.

    python benchmarks/bench_kernels.py            # full run, a few minutes
    python benchmarks/bench_kernels.py --quick    # tiny sizes, seconds (used by the tests)

Writes ``kernels_bench.md`` (the table, the machine, the library versions, the compile
times) and ``kernels_gflops.png`` into ``--out``: by default ``runs/bench/`` (ignored by
git); ``--out plots`` refreshes the copies the README shows.

Contenders: the ladder's rungs ``naive`` and ``i-k-j``; ``tiled``, the packed register
tiles alone; ``matmul``, the public entry points (``kernels.matmul``, ``matmul_nt``,
``matmul_tn``), which send small and skinny products to the row-combination kernels and
big ones to the tiles; and NumPy's OpenBLAS. The targets: ``matmul`` at >= 0.8x OpenBLAS
for n >= 512 on one thread, and >= 0.6x at the MLP's shapes.

Each number is the best of several repeats after a warm-up call, each repeat long
enough to dwarf the timer: on a shared machine the fastest repeat is the one the other
programs disturbed least. A product of (M, K) by (K, N) counts 2 * M * N * K flops.
The naive loop is skipped above n = 512: at about 1 GFLOP/s it would take minutes.
Threads are set for both sides at once: ``numba.set_num_threads`` for the kernels,
``threadpoolctl`` for OpenBLAS. The naive and i-k-j rungs are serial, so they are
measured once, with one thread.

OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE at start-up; if they are set, run
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kernels.py``
for a fair comparison. The report records which OpenBLAS kernel actually ran.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from scratch_gd import kernels
from scratch_gd.kernels.pack import rows, rows_of_transpose

SQUARE_SIZES = (32, 64, 128, 256, 512, 1024)
NAIVE_MAX_SIZE = 512
# The MLP's own products, (label, a shape, b shape, function of (a, b)).
MLP_SHAPES = (
    ("x @ W.T  (1000x32 @ 32x32)", (1000, 32), (32, 32), "nt"),
    ("g @ W  (1000x32 @ 32x32)", (1000, 32), (32, 32), "nn"),
    ("g.T @ x  (32x1000 @ 1000x32)", (1000, 32), (1000, 32), "tn"),
    ("x @ W.T  (128x32 @ 32x32)", (128, 32), (32, 32), "nt"),
)
SQUARE_TARGET, MLP_TARGET = 0.8, 0.6  # matmul / OpenBLAS on 1 thread (see the docstring)
KERNELS = ("naive", "ikj", "tiled", "matmul", "blas")
NAMES = {"naive": "naive", "ikj": "i-k-j", "tiled": "tiled", "matmul": "matmul",
         "blas": "OpenBLAS"}  # fmt: skip


def tiled(form: str) -> Callable:
    """The packed register tiles alone, whatever the shape: what ``matmul`` ran for every
    product before it learned to dispatch."""
    pack = {
        "nn": lambda a, b: (rows(a), rows_of_transpose(b)),
        "nt": lambda a, b: (rows(a), rows(b)),
        "tn": lambda a, b: (rows_of_transpose(a), rows_of_transpose(b)),
    }[form]
    return lambda a, b: kernels._tiled(*pack(a, b), None)


def products(form: str) -> dict[str, Callable]:
    """The contenders for one form of product, each taking (a, b)."""
    if form == "nt":
        return {"tiled": tiled(form), "matmul": kernels.matmul_nt, "blas": lambda a, b: a @ b.T}
    if form == "tn":
        return {"tiled": tiled(form), "matmul": kernels.matmul_tn, "blas": lambda a, b: a.T @ b}
    return {
        "naive": kernels.matmul_naive,
        "ikj": kernels.matmul_ikj,
        "tiled": tiled(form),
        "matmul": kernels.matmul,
        "blas": np.matmul,
    }


def seconds_per_call(function: Callable, a, b, repeats: int, min_time: float) -> float:
    """Best time of one call, over ``repeats`` timed batches after a warm-up call."""
    function(a, b)
    start = time.perf_counter()
    function(a, b)
    once = max(time.perf_counter() - start, 1e-7)
    calls = max(1, int(min_time / once))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function(a, b)
        times.append((time.perf_counter() - start) / calls)
    return min(times)


def measure(cases, dtypes, thread_counts, repeats, min_time) -> list[dict]:
    """One row per (dtype, case, threads): GFLOP/s of every kernel that applies."""
    rng = np.random.default_rng(0)
    rows = []
    for dtype in dtypes:
        for label, shape_a, shape_b, form, flops, size in cases:
            a = rng.standard_normal(shape_a).astype(dtype)
            b = rng.standard_normal(shape_b).astype(dtype)
            for threads in thread_counts:
                numba.set_num_threads(threads)
                row = {"dtype": np.dtype(dtype).name, "case": label, "threads": threads}
                with threadpool_limits(limits=threads, user_api="blas"):
                    for name, function in products(form).items():
                        serial_rung = name in ("naive", "ikj")
                        too_slow = name == "naive" and size > NAIVE_MAX_SIZE
                        if serial_rung and (threads > 1 or too_slow):
                            continue
                        seconds = seconds_per_call(function, a, b, repeats, min_time)
                        row[name] = flops / seconds / 1e9
                row["size"] = size
                rows.append(row)
                print(format_row(row), flush=True)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return rows


def target(row: dict) -> float | None:
    """The ratio ``matmul`` should reach on this row, if the targets cover it."""
    if row["threads"] != 1:
        return None
    if row["size"] >= 512:
        return SQUARE_TARGET
    return MLP_TARGET if row["size"] == 0 else None


def format_row(row: dict) -> str:
    cells = [row["dtype"], row["case"], str(row["threads"])]
    cells += [f"{row[name]:.3g}" if name in row else "-" for name in KERNELS]
    ratio = row["matmul"] / row["blas"]
    goal = target(row)
    note = "" if goal is None else f" (>= {goal:g}{'' if ratio >= goal else ', missed'})"
    cells.append(f"{ratio:.2f}{note}")
    return "| " + " | ".join(cells) + " |"


def table(rows: list[dict]) -> str:
    header = "| dtype | shape | threads | " + " | ".join(NAMES[k] for k in KERNELS)
    header += " | matmul / OpenBLAS (target) |"
    rule = "|---|---|---:|" + "---:|" * (len(KERNELS) + 1)
    return "\n".join([header, rule] + [format_row(row) for row in rows])


def compile_times() -> dict[str, float]:
    """Seconds to import and first-call every kernel, with an empty and a filled cache."""
    script = (
        "import time; start = time.perf_counter()\n"
        "import numpy as np\n"
        "from scratch_gd import kernels as k\n"
        "for t in (np.float32, np.float64):\n"
        "    a = np.ones((9, 9), t); v = np.ones(9, t)\n"
        "    for f in (k.matmul, k.matmul_tn, k.matmul_nt, k.matmul_naive, k.matmul_ikj):\n"
        "        f(a, a)\n"
        "    k.matmul(np.ones((300, 300), t), np.ones((300, 300), t))\n"
        "    k.bias_add(a, v, relu=True); k.relu_backward(a, a); k.column_sum(a)\n"
        "    k.sgd_update(v, v.copy(), v.copy(), 0.1, 0.9, 0.0, 0.0, False, False, True)\n"
        "print(time.perf_counter() - start)\n"
    )
    times = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        root = str(Path(__file__).resolve().parents[1])  # measure the checkout this file is in
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        for label in ("cold (empty cache)", "warm (cached)"):
            result = subprocess.run(
                [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
            )
            times[label] = float(result.stdout.split()[-1])
    return times


def load() -> str:
    """The 1, 5 and 15 minute load averages: on a 2-core machine, anything above 1 means
    other programs shared the cores during the measurement."""
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')} kernel, "
        f"{info.get('threading_layer')})"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    unset = [name for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ]
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical cores",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}",
        f"- BLAS: {', '.join(blas) or 'unknown'}",
        f"- OpenBLAS overrides set: {', '.join(unset) or 'none'}",
    ]


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = sorted({row["dtype"] for row in rows})
    figure, axes = plt.subplots(
        1, len(dtypes) + 1, figsize=(5.6 * (len(dtypes) + 1), 5.2), squeeze=False
    )
    colours = dict(zip(KERNELS, ("C3", "C1", "C4", "C0", "C2"), strict=True))
    for axis, dtype in zip(axes[0], dtypes, strict=False):
        square = [row for row in rows if row["dtype"] == dtype and row["case"].startswith("n=")]
        for threads, style in ((1, "-"), (2, "--")):
            for name in KERNELS:
                points = [
                    (r["size"], r[name]) for r in square if r["threads"] == threads and name in r
                ]
                if points:
                    label = f"{NAMES[name]}, {threads} thread{'s' if threads > 1 else ''}"
                    axis.plot(*zip(*points, strict=True), style, marker="o",
                              color=colours[name], label=label)  # fmt: skip
        axis.set(xlabel="n (square n x n matmul)", ylabel="GFLOP/s (higher is better)",
                 title=f"{dtype}, square products")  # fmt: skip
        axis.set_xscale("log", base=2)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    mlp = [row for row in rows if row["size"] == 0 and row["threads"] == 1]
    bars = axes[0][-1]
    labels = [f"{row['dtype']} {row['case']}" for row in mlp]
    ratios = [row["matmul"] / row["blas"] for row in mlp]
    bars.barh(range(len(mlp)), ratios, color="C0", label="matmul / OpenBLAS, 1 thread")
    bars.axvline(MLP_TARGET, color="black", linestyle=":", label=f"target {MLP_TARGET:g}x")
    bars.axvline(1.0, color="grey", linewidth=1)
    bars.set_yticks(range(len(mlp)), labels, fontsize=7)
    bars.set(xlabel="speed relative to OpenBLAS (1 = as fast)",
             title="The MLP's products, 1 thread")  # fmt: skip
    bars.invert_yaxis()
    bars.legend(fontsize=7, loc="lower right")
    figure.suptitle(
        "scratch_gd's matmul kernels against OpenBLAS. matmul = the public entry points "
        "(row kernels for small or skinny products, packed tiles for big ones)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/bench"),
        help="output folder (default runs/bench, ignored by git; plots refreshes the README's)",
    )
    parser.add_argument(
        "--no-compile-times", action="store_true", help="skip the cold/warm compile timing"
    )
    options = parser.parse_args(argv)
    sizes = (32, 64) if options.quick else SQUARE_SIZES
    repeats, min_time = (3, 0.002) if options.quick else (7, 0.05)

    cases = [(f"n={n}", (n, n), (n, n), "nn", 2 * n**3, n) for n in sizes]
    for label, shape_a, shape_b, form in MLP_SHAPES:
        m, k = shape_a[::-1] if form == "tn" else shape_a
        n = shape_b[0] if form == "nt" else shape_b[1]
        cases.append((label, shape_a, shape_b, form, 2 * m * n * k, 0))

    print(table([]))
    load_before = load()
    rows = measure(cases, (np.float32, np.float64), (1, 2), repeats, min_time)
    lines = ["# Matmul kernels against OpenBLAS (GFLOP/s, higher is better)", ""]
    lines += machine()
    lines.append(f"- Load average (1, 5, 15 min) before: {load_before}; after: {load()}")
    lines += ["", f"Command: `python benchmarks/bench_kernels.py{' --quick' * options.quick}`"]
    lines += ["", table(rows), ""]
    lines.append(
        f"Best of {repeats} repeats after a warm-up. naive is skipped for n > "
        f"{NAIVE_MAX_SIZE} (too slow); naive and i-k-j are serial, so measured with 1 thread."
    )
    if not (options.quick or options.no_compile_times):
        compile_seconds = compile_times()
        lines += ["", "Import + first call of every kernel, both dtypes:", ""]
        lines += [f"- {label}: {seconds:.1f} s" for label, seconds in compile_seconds.items()]
        print("\n".join(lines[-2:]))
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "kernels_bench.md").write_text("\n".join(lines) + "\n")
    plot(rows, options.out / "kernels_gflops.png")
    print(f"wrote {options.out / 'kernels_bench.md'} and {options.out / 'kernels_gflops.png'}")


if __name__ == "__main__":
    main()
