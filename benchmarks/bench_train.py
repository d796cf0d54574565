"""Training speed: the lesson's three regimes in this project's engines and in PyTorch.

    python benchmarks/bench_train.py            # full run, a few minutes (``make bench``)
    python benchmarks/bench_train.py --quick    # tiny sizes, seconds (used by the tests)

Writes ``train_bench.md`` (tables, machine, library versions), ``train_bench.png`` (steps/s
of every contender) and ``train_scale.png`` (the compiled engine on bigger problems) into
``--out`` (default ``plots/``).

Contenders, each on the lesson's data (1000 points), network (1-32-32-1, float32) and
settings (lr 1e-4; batch 1000 / 1 / 128 with momentum 1 / 0 / 1; "lesson" sampling: a
fresh shuffle and its first batch every step):

* ``compiled``: ``train(..., engine="compiled")``, the whole loop in Numba.
* ``layers + kernels``: ``engine="layers"`` on the Numba matmul kernels (``backend="numba"``).
* ``layers + NumPy``: ``engine="layers"`` on plain NumPy (``backend="numpy"``).
* ``torch DataLoader``: the lesson's own loop, ``next(iter(DataLoader(ds, batch_size=B,
  shuffle=True)))`` every step, PyTorch 2.13.0 on 2 threads.
* ``torch randperm``: the same network and optimiser with the batch taken by
  ``x[torch.randperm(n)[:B]]``, no DataLoader.

Every contender runs the same number of steps per run and records the loss of every step
(``loss.item()`` in torch, as the lesson does). Each number is the median of several runs
after a warm-up run; the whole ``train`` call is timed, set-up included. FLOPs count the
multiply-adds of the matrix products only: 2 per multiply-add, forward (B x in x out per
layer), weight gradients (the same) and input gradients (all layers but the first).
The peak (100 GFLOP/s float32 per core: 2 FMA units x 8 lanes x 2 flops x ~3.1 GHz) is
an estimate, not a measurement.

The machine may be shared: the load average is printed beside the results, because on a
2-core machine anything else running halves what is measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt
import numba
import numpy as np

import scratch_gd as sg
from scratch_gd.engine import compiled as engine
from scratch_gd.lab.race_plots import save
from scratch_gd.store.files import atomic_write_text

PEAK_PER_CORE = 100.0  # GFLOP/s float32, an estimate (see the module docstring)
CORES = os.cpu_count() or 1
SIZES = [1, 32, 32, 1]
LR = 1e-4
REGIMES = (("Batch", 1000, 1.0), ("Stochastic", 1, 0.0), ("Minibatch (128)", 128, 1.0))
CONTENDERS = (
    "compiled",
    "layers + kernels",
    "layers + NumPy",
    "torch DataLoader",
    "torch randperm",
)
LESSON_LOOP, MANUAL_LOOP = "torch DataLoader", "torch randperm"
# The targets: (regime, speed-up over the lesson's loop, over the manual loop).
TARGETS = {"Batch": (30, 4), "Stochastic": (100, 100), "Minibatch (128)": (40, 15)}
TARGET_PEAK_SHARE = {"Batch": 0.25}  # share of the all-core peak the full batch should reach


def flops_per_step(sizes: list[int], batch: int) -> int:
    """2 flops per multiply-add: forward, weight gradients, and input gradients but the first."""
    products = [fan_in * fan_out for fan_in, fan_out in itertools.pairwise(sizes)]
    return 2 * batch * (2 * sum(products) + sum(products[1:]))


# --- the contenders --------------------------------------------------------------------


def ours(engine: str, backend: str) -> Callable:
    def run(x, y, batch, momentum, steps, sizes=SIZES):
        model = sg.MLP(sizes, dtype=np.float32, seed=0, backend=backend)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # momentum 1 warns, by design
            optimizer = sg.SGD(model.parameters(), lr=LR, momentum=momentum)
        start = time.perf_counter()
        history = sg.train(model, optimizer, x, y, batch_size=batch, steps=steps,
                           engine=engine, progress=False)  # fmt: skip
        seconds = time.perf_counter() - start
        assert history.steps == steps and history.engine == engine, history.summary()
        return seconds

    return run


def torch_net(sizes: list[int]):
    import torch

    torch.manual_seed(0)
    layers: list = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def torch_dataloader(x, y, batch, momentum, steps, sizes=SIZES):
    """The lesson's loop: a new DataLoader iterator, shuffled, for every single step."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    net = torch_net(sizes)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=momentum)
    loss_fn = torch.nn.MSELoss()
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        xb, yb = next(iter(DataLoader(dataset, batch_size=batch, shuffle=True)))
        optimizer.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return time.perf_counter() - start


def torch_randperm(x, y, batch, momentum, steps, sizes=SIZES):
    """The same steps without DataLoader: index the tensors with a random permutation."""
    import torch

    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    net = torch_net(sizes)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=momentum)
    loss_fn = torch.nn.MSELoss()
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        index = torch.randperm(len(x_t))[:batch]
        optimizer.zero_grad()
        loss = loss_fn(net(x_t[index]), y_t[index])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return time.perf_counter() - start


RUNNERS: dict[str, Callable] = {
    "compiled": ours("compiled", "numba"),
    "layers + kernels": ours("layers", "numba"),
    "layers + NumPy": ours("layers", "numpy"),
    "torch DataLoader": torch_dataloader,
    "torch randperm": torch_randperm,
}


# --- the three regimes -----------------------------------------------------------------


def measure_regimes(steps: int, repeats: int) -> list[dict]:
    """Steps/s of every contender in every regime: the median of ``repeats`` runs (3 for a
    contender slower than 2 s a run), after a shorter warm-up run of each.

    The runs take turns, contender after contender, rather than one contender's runs in a
    row: when another program loads the machine for a while, that then slows one run of
    each contender instead of every run of one, and the medians shrug it off.
    """
    x, y = sg.lesson_data(1000, dtype=np.float32)
    rows = []
    for name, batch, momentum in REGIMES:
        wanted = {}
        for contender in CONTENDERS:  # warm-up: compiles, loads and caches what it needs
            warm_steps = min(steps, 10)
            estimate = RUNNERS[contender](x, y, batch, momentum, warm_steps) * steps / warm_steps
            wanted[contender] = min(repeats, 3) if estimate > 2.0 else repeats
        times: dict[str, list[float]] = {contender: [] for contender in CONTENDERS}
        for turn in range(repeats):
            for contender in CONTENDERS:
                if turn < wanted[contender]:
                    times[contender].append(RUNNERS[contender](x, y, batch, momentum, steps))
        row = {"regime": name, "batch": batch, "momentum": momentum}
        for contender in CONTENDERS:
            row[contender] = steps / statistics.median(times[contender])
            print(f"  {name:<16} {contender:<17} {row[contender]:>12,.0f} steps/s", flush=True)
        rows.append(row)
    return rows


def regime_table(rows: list[dict]) -> str:
    lines = [
        "| regime | batch | momentum | " + " | ".join(CONTENDERS) + " |",
        "|---|---:|---:|" + "---:|" * len(CONTENDERS),
    ]
    for row in rows:
        cells = [row["regime"], str(row["batch"]), f"{row['momentum']:g}"]
        cells += [f"{row[contender]:,.0f}" for contender in CONTENDERS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratio_table(rows: list[dict]) -> str:
    lines = [
        (
            "| regime | compiled vs torch DataLoader (target) | compiled vs torch randperm (target) "
            "| FLOPs/step | compiled GFLOP/s | share of the 1-core / all-core peak (target) |"
        ),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        compiled = row["compiled"]
        lesson_target, manual_target = TARGETS[row["regime"]]
        flops = flops_per_step(SIZES, row["batch"])
        gflops = flops * compiled / 1e9
        peak_target = TARGET_PEAK_SHARE.get(row["regime"])
        peak_note = f" (>= {peak_target:.0%})" if peak_target else ""
        lines.append(
            f"| {row['regime']} | {compiled / row[LESSON_LOOP]:,.1f}x (>= {lesson_target}x) "
            f"| {compiled / row[MANUAL_LOOP]:,.1f}x (>= {manual_target}x) | {flops:,} "
            f"| {gflops:.2f} | {gflops / PEAK_PER_CORE:.1%} / "
            f"{gflops / (PEAK_PER_CORE * CORES):.1%}{peak_note} |"
        )
    return "\n".join(lines)


def regime_chart(rows: list[dict], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(10, 5.2))
    width = 0.8 / len(CONTENDERS)
    colours = ("C0", "C1", "C2", "C3", "C4")
    for index, (contender, colour) in enumerate(zip(CONTENDERS, colours, strict=True)):
        positions = np.arange(len(rows)) + (index - (len(CONTENDERS) - 1) / 2) * width
        values = [row[contender] for row in rows]
        axis.bar(positions, values, width, color=colour, label=contender)
        if contender == "compiled":
            for position, row in zip(positions, rows, strict=True):
                axis.annotate(
                    f"{row['compiled'] / row[LESSON_LOOP]:,.0f}x lesson\n"
                    f"{row['compiled'] / row[MANUAL_LOOP]:,.1f}x randperm",
                    (position, row["compiled"]),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
    axis.set_xticks(
        np.arange(len(rows)), [f"{row['regime']}\nbatch {row['batch']}" for row in rows]
    )
    axis.set_yscale("log")
    top = max(row[contender] for row in rows for contender in CONTENDERS)
    axis.set_ylim(top=top * 6)  # room for the labels above the tallest bar
    axis.set_ylabel("training steps per second (log scale)")
    axis.set_title(
        "The lesson's three regimes (1-32-32-1 MLP, float32): steps per second, higher is "
        "better;\nlabels: the compiled engine's speed-up over the two PyTorch loops"
    )
    axis.grid(axis="y", alpha=0.3, which="both")
    axis.legend(fontsize=8, ncols=len(CONTENDERS), loc="upper center",
                bbox_to_anchor=(0.5, -0.14))  # fmt: skip
    save(figure, path)


# --- bigger problems ---------------------------------------------------------------------


def measure_scale(
    n: int, widths: list[int], batches: list[int], budget: float, thread_counts: list[int]
) -> list[dict]:
    """Steps/s of the compiled engine on a 1-w-w-1 MLP, each point run for ~``budget`` s."""
    x, y = sg.lesson_data(n, dtype=np.float32)
    rows = []
    run = RUNNERS["compiled"]
    for threads in thread_counts:
        numba.set_num_threads(threads)
        engine.THREADS = threads  # exactly this many, not the engine's pick by speed
        for width in widths:
            sizes = [1, width, width, 1]
            for batch in batches:
                run(x, y, batch, 0.9, 2, sizes)  # warm-up: compiles on first use
                probe = run(x, y, batch, 0.9, 10, sizes) / 10  # a first speed estimate
                steps = int(min(200_000, max(5, budget / max(probe, 1e-7))))
                seconds = run(x, y, batch, 0.9, steps, sizes)
                rate = steps / seconds
                flops = flops_per_step(sizes, batch)
                row = {"threads": threads, "width": width, "batch": batch, "steps/s": rate,
                       "GFLOP/s": flops * rate / 1e9}  # fmt: skip
                rows.append(row)
                print(
                    f"  threads {threads} width {width:>4} batch {batch:>5}: {rate:>10,.0f} "
                    f"steps/s {row['GFLOP/s']:>7.2f} GFLOP/s",
                    flush=True,
                )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    engine.THREADS = None
    return rows


def scale_table(rows: list[dict]) -> str:
    lines = ["| threads | width | batch | steps/s | GFLOP/s |", "|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row['threads']} | {row['width']} | {row['batch']} | {row['steps/s']:,.0f} "
            f"| {row['GFLOP/s']:.2f} |"
        )
    return "\n".join(lines)


def scale_chart(rows: list[dict], n: int, path: Path) -> None:
    widths = sorted({row["width"] for row in rows})
    threads = sorted({row["threads"] for row in rows})
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    colours = {width: f"C{index}" for index, width in enumerate(widths)}
    styles = {count: style for count, style in zip(threads, ("-", "--", ":"), strict=False)}
    for count in threads:
        for width in widths:
            points = sorted(
                (row["batch"], row["steps/s"], row["GFLOP/s"])
                for row in rows
                if row["width"] == width and row["threads"] == count
            )
            batch, rate, gflops = (list(column) for column in zip(*points, strict=True))
            label = f"width {width}, {count} thread{'s' if count > 1 else ''}"
            left.plot(batch, rate, styles[count], marker="o", color=colours[width], label=label)
            right.plot(batch, gflops, styles[count], marker="o", color=colours[width], label=label)
    for cores in sorted({1, CORES}):
        right.axhline(PEAK_PER_CORE * cores, color="grey", linestyle=":", linewidth=1)
        right.annotate(
            f"peak, {cores} core{'s' if cores > 1 else ''} (estimate)",
            (0.01, PEAK_PER_CORE * cores),
            xycoords=("axes fraction", "data"),
            fontsize=8,
            color="grey",
            va="bottom",
        )
    left.set(xscale="log", yscale="log", xlabel="batch size (samples per step, log scale)",
             ylabel="training steps per second (log scale)", title="Steps per second")  # fmt: skip
    right.set(xscale="log", yscale="log", xlabel="batch size (samples per step, log scale)",
              ylabel="GFLOP/s of the matrix products (log scale)",
              title="Arithmetic rate: where it flattens, compute dominates")  # fmt: skip
    right.set_ylim(top=PEAK_PER_CORE * CORES * 2)
    batches = sorted({row["batch"] for row in rows})
    for axis in (left, right):
        axis.set_xticks(batches, [str(batch) for batch in batches])
        axis.minorticks_off()
        axis.grid(alpha=0.3)
    figure.suptitle(
        f"Compiled engine on bigger problems: 1-w-w-1 MLP, {n:,} samples, float32 "
        "(solid: 1 thread, dashed: 2 threads)"
    )
    left.legend(fontsize=7, ncols=2)
    save(figure, path)


# --- `make compare` end to end -------------------------------------------------------------


def compare_seconds(extra: list[str], cache_dir: str | None, out: Path) -> float:
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    command = [sys.executable, "-m", "scratch_gd", "compare", "--no-progress", "--out", str(out)]
    start = time.perf_counter()
    result = subprocess.run(command + extra, env=env, check=False, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"`compare` exited with {result.returncode}: {last}")
    return seconds


def time_compare(quick: bool, repeats: int) -> list[str]:
    """`python -m scratch_gd compare` end to end, warm (cached) and cold (empty Numba cache)."""
    extra = ["--steps", "20"] if quick else []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures"
        if not quick:  # the quick run relies on the cache the engines above just filled
            compare_seconds(extra, None, out)
        warm = statistics.median(compare_seconds(extra, None, out) for _ in range(repeats))
        lines = [f"- warm (Numba cache filled): {warm:.2f} s (median of {repeats}; target < 3 s)"]
        if quick:
            lines.append("- cold: skipped in --quick mode")
        else:
            empty = Path(folder) / "empty-cache"
            empty.mkdir()
            cold = compare_seconds(extra, str(empty), out)
            lines.append(f"- cold (NUMBA_CACHE_DIR an empty folder): {cold:.2f} s (target < 20 s)")
    command = "python -m scratch_gd compare --no-progress --out <tmp>" + (
        " --steps 20" if quick else ""
    )
    return [f"`{command}`, wall-clock seconds including Python start-up:", ""] + lines


# --- the report ------------------------------------------------------------------------------


def machine() -> list[str]:
    import torch
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        f"{info.get('internal_api')} {info.get('version')}"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return [
        (
            f"- CPU: {cpu}, {CORES} logical cores; Numba threads: {numba.config.NUMBA_NUM_THREADS}"
            f" ({numba.threading_layer()} layer); torch threads: {torch.get_num_threads()}"
        ),
        (
            f"- Python {platform.python_version()}, NumPy {np.__version__}, Numba "
            f"{numba.__version__}, PyTorch {torch.__version__}, BLAS: {', '.join(blas) or 'unknown'}"
        ),
        (
            f"- Peak (estimate, not measured): {PEAK_PER_CORE:.0f} GFLOP/s float32 per core, "
            f"{PEAK_PER_CORE * CORES:.0f} on all {CORES}"
        ),
    ]


def busy(load_before: str, load_after: str) -> list[str]:
    """A warning line when other programs kept the machine busy during the run."""
    try:
        worst = max(float(text.split(",")[0]) for text in (load_before, load_after))
    except ValueError:
        return []
    if worst < 1.0:
        return []
    warning = (
        f"- **Warning**: the 1-minute load average reached {worst:.1f} on {CORES} cores: "
        "other programs ran during the measurement. Numbers using 2 threads (PyTorch, "
        "OpenBLAS, the kernels' parallel matmul) suffer most from that; rerun on an idle "
        "machine."
    )
    return [warning]


def load() -> str:
    try:
        return ", ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats")
    parser.add_argument("--out", type=Path, default=Path("plots"), help="output folder")
    parser.add_argument("--no-scale", action="store_true", help="skip the bigger problems")
    parser.add_argument("--no-compare", action="store_true", help="skip timing `compare`")
    options = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    if options.quick:
        steps, repeats = 10, 1
        scale = dict(n=2000, widths=[8, 16], batches=[1, 32], budget=0.01, thread_counts=[1, 2])
    else:
        steps, repeats = 1000, 5
        scale = dict(
            n=100_000,
            widths=[32, 64, 128, 256, 512],
            batches=[1, 16, 128, 1024, 4096],
            budget=0.6,
            thread_counts=[1, 2] if CORES > 1 else [1],
        )
    started_load = load()
    print(f"The lesson's three regimes, {steps} steps per run, median of {repeats} runs:")
    rows = measure_regimes(steps, repeats)
    lines = ["# Training speed: the lesson's three regimes, and bigger problems", ""]
    lines += machine()
    lines += [
        (
            f"- Load average (1, 5, 15 min) before: {started_load}; after: {load()}. On a shared "
            "2-core machine anything else running slows every contender."
        ),
        *busy(started_load, load()),
        "",
        (
            f"Command: `python benchmarks/bench_train.py{' --quick' if options.quick else ''}` "
            "(`make bench`). Lesson data (1000 points), 1-32-32-1 MLP, float32, lr 1e-4, "
            f"lesson sampling; {steps} steps per run, median of {repeats} runs after a warm-up. "
            "Training steps per second (higher is better):"
        ),
        "",
        regime_table(rows),
        "",
        "Speed-ups of the compiled engine, and its arithmetic rate (matrix products only):",
        "",
        ratio_table(rows),
    ]
    print("\n".join(lines[-7:]))
    if not options.no_compare:
        print("Timing `compare` end to end ...", flush=True)
        try:
            compare_lines = time_compare(options.quick, repeats=1 if options.quick else 3)
        except RuntimeError as error:  # report it with the rest rather than lose the run
            compare_lines = [f"- not measured: {error}"]
        lines += ["", "## `make compare` end to end", ""] + compare_lines
        print("\n".join(compare_lines))
    options.out.mkdir(parents=True, exist_ok=True)
    written = [options.out / "train_bench.md", options.out / "train_bench.png"]
    regime_chart(rows, written[1])
    if not options.no_scale:
        print(f"Bigger problems: {scale['n']:,} samples, 1-w-w-1 MLP, momentum 0.9:")
        scale_rows = measure_scale(**scale)
        lines += [
            "",
            "## Bigger problems",
            "",
            (
                f"The compiled engine on {scale['n']:,} samples of the same parabola, MLP "
                "1-w-w-1, float32, lr 1e-4, momentum 0.9, each point run for about "
                f"{scale['budget']} s with Numba on 1 and on all threads:"
            ),
            "",
            scale_table(scale_rows),
        ]
        written.append(options.out / "train_scale.png")
        scale_chart(scale_rows, scale["n"], written[-1])
    atomic_write_text(written[0], "\n".join(lines) + "\n")
    print("wrote " + ", ".join(str(path) for path in written))


if __name__ == "__main__":
    main()
