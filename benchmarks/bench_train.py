"""Training speed: the lesson's three regimes in this project's engines and in PyTorch.

    python benchmarks/bench_train.py            # full run, a few minutes (``make bench``)
    python benchmarks/bench_train.py --quick    # tiny sizes, seconds (used by the tests)

Writes ``train_bench.md`` (tables, machine, library versions), ``train_bench.png`` (steps/s
of every contender, GFLOP/s against the measured sgemm ceiling, compile times) and
``train_scale.png`` (the compiled engine on bigger problems) into ``--out``: by default
``runs/bench/`` (ignored by git), ``--out plots`` refreshes the copies the README shows.

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
* ``JAX lax.scan``: the whole run as one XLA program, ``jax.lax.scan`` over the steps
  (``pip install -e '.[bench]'``); the speed-minded user's choice.
* ``JAX jit loop``: one ``jax.jit`` step called from a Python loop.

Both JAX contenders get their best case: the batch indices precomputed (the same ones
our engine draws, from ``BatchSampler``), the initial weights ours (so the same
distribution as torch's), torch's SGD rule, and the clock started after compilation
(their compile times are reported beside ours). They keep every step's loss on the
device and wait for it once at the end.

Every contender runs the same number of steps per run and records the loss of every step
(``loss.item()`` in torch, as the lesson does). Each number is the best of several runs
after a warm-up run (on a shared machine the fastest run is the one other programs
disturbed least); the whole ``train`` call is timed, set-up included. FLOPs count the
multiply-adds of the matrix products only: 2 per multiply-add, forward (B x in x out per
layer), weight gradients (the same) and input gradients (all layers but the first).
The ceiling is measured, not estimated: OpenBLAS's sgemm (float32, 2048 x 2048) on 1 and
on 2 threads, the best of several runs.

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
from scratch_gd.reference.sampling import BatchSampler
from scratch_gd.store.files import atomic_write_text

CORES = os.cpu_count() or 1
SIZES = [1, 32, 32, 1]
LR = 1e-4
N_SAMPLES = 1000
REGIMES = (("Batch", 1000, 1.0), ("Stochastic", 1, 0.0), ("Minibatch (128)", 128, 1.0))
LESSON_LOOP, MANUAL_LOOP = "torch DataLoader", "torch randperm"
JAX_SCAN, JAX_LOOP = "JAX lax.scan", "JAX jit loop"
ALL_CONTENDERS = (
    "compiled",
    JAX_SCAN,
    JAX_LOOP,
    MANUAL_LOOP,
    LESSON_LOOP,
    "layers + kernels",
    "layers + NumPy",
)
# Speed-ups of the compiled engine the issues ask for, against each peer, in every regime.
TARGETS = {JAX_SCAN: 2, MANUAL_LOOP: 4, LESSON_LOOP: 30}
TARGET_CEILING_SHARE = {"Batch": 0.6}  # share of the 2-thread sgemm rate
TARGET_COLD_COMPILE = 8.0  # seconds, everything engine="compiled" needs for the 3 regimes


def have_jax() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


CONTENDERS = tuple(c for c in ALL_CONTENDERS if have_jax() or not c.startswith("JAX"))


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


class Jax:
    """The lesson's training in JAX, compiled by XLA: ``lax.scan`` over all steps, or one
    jitted step per Python call. Programs are compiled once per shape, off the clock;
    ``compile_seconds`` keeps what each compilation took."""

    def __init__(self) -> None:
        self.programs: dict[tuple, Callable] = {}
        self.compile_seconds: dict[tuple, float] = {}

    @staticmethod
    def start(sizes: list[int], momentum: float):
        """Our MLP's initial weights (torch's distribution) and a zero momentum buffer."""
        import jax.numpy as jnp

        model = sg.MLP(sizes, dtype=np.float32, seed=0)
        params = [jnp.asarray(p.data) for p in model.parameters()]
        velocity = [jnp.zeros_like(p) for p in params] if momentum else []
        return params, velocity, jnp.asarray(True)

    @staticmethod
    def step_function(momentum: float):
        """One SGD step with torch's rule: v = g on the first step, else m v + g; p -= lr v."""
        import jax
        import jax.numpy as jnp

        def loss_of(params, xb, yb):
            h = xb
            for layer in range(0, len(params), 2):
                h = h @ params[layer].T + params[layer + 1]
                if layer + 2 < len(params):
                    h = jnp.maximum(h, 0)
            return jnp.mean((h - yb) ** 2)

        loss_and_grads = jax.value_and_grad(loss_of)

        def step(x, y, carry, batch):
            params, velocity, first = carry
            loss, grads = loss_and_grads(params, x[batch], y[batch])
            if momentum:
                velocity = [
                    jnp.where(first, g, momentum * v + g)
                    for v, g in zip(velocity, grads, strict=True)
                ]
                grads = velocity
            params = [p - LR * g for p, g in zip(params, grads, strict=True)]
            return (params, velocity, jnp.asarray(False)), loss

        return step

    def program(self, kind: str, x, y, batches, momentum: float, sizes: list[int]):
        import jax

        key = (kind, batches.shape if kind == "scan" else batches.shape[1:], momentum, len(sizes))
        key += tuple(sizes)
        if key not in self.programs:
            step = self.step_function(momentum)
            carry = self.start(sizes, momentum)
            start = time.perf_counter()
            if kind == "scan":

                def whole_run(x, y, carry, batches):
                    return jax.lax.scan(lambda c, b: step(x, y, c, b), carry, batches)

                compiled = jax.jit(whole_run).lower(x, y, carry, batches).compile()
            else:
                compiled = jax.jit(step).lower(x, y, carry, batches[0]).compile()
            self.compile_seconds[key] = time.perf_counter() - start
            self.programs[key] = compiled
        return self.programs[key]

    def batches(self, batch: int, steps: int) -> np.ndarray:
        """The batches our engine draws for seed 0, one row of indices per step."""
        indices, _ = BatchSampler(N_SAMPLES, batch, seed=0).next_chunk(steps)
        return indices.reshape(steps, batch).astype(np.int32)

    def scan(self, x, y, batch, momentum, steps, sizes=SIZES):
        import jax

        batches = jax.device_put(self.batches(batch, steps))
        x, y = jax.device_put(x), jax.device_put(y)
        run = self.program("scan", x, y, batches, momentum, sizes)
        carry = self.start(sizes, momentum)
        start = time.perf_counter()
        _, losses = run(x, y, carry, batches)
        jax.block_until_ready(losses)
        return time.perf_counter() - start

    def loop(self, x, y, batch, momentum, steps, sizes=SIZES):
        import jax

        batches = jax.device_put(self.batches(batch, steps))
        x, y = jax.device_put(x), jax.device_put(y)
        step = self.program("loop", x, y, batches, momentum, sizes)
        rows = [batches[k] for k in range(steps)]
        carry = self.start(sizes, momentum)
        losses = []
        start = time.perf_counter()
        for batch_indices in rows:
            carry, loss = step(x, y, carry, batch_indices)
            losses.append(loss)
        jax.block_until_ready(losses)
        return time.perf_counter() - start


JAX = Jax()


RUNNERS: dict[str, Callable] = {
    "compiled": ours("compiled", "numba"),
    "layers + kernels": ours("layers", "numba"),
    "layers + NumPy": ours("layers", "numpy"),
    "torch DataLoader": torch_dataloader,
    "torch randperm": torch_randperm,
    JAX_SCAN: JAX.scan,
    JAX_LOOP: JAX.loop,
}


# --- the three regimes -----------------------------------------------------------------


def measure_regimes(steps: int, repeats: int) -> list[dict]:
    """Steps/s of every contender in every regime: the best of ``repeats`` runs (3 for a
    contender slower than 2 s a run), after a shorter warm-up run of each.

    The runs take turns, contender after contender, rather than one contender's runs in a
    row: when another program loads the machine for a while, that then slows one run of
    each contender instead of every run of one, and taking the best shrugs it off.
    """
    x, y = sg.lesson_data(N_SAMPLES, dtype=np.float32)
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
            row[contender] = steps / min(times[contender])
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


def jax_compile_seconds(steps: int) -> dict[str, tuple[float, float]]:
    """Per regime, JAX's compile time for (the whole ``steps``-step scan, one jitted step)."""
    found = {}
    for name, batch, momentum in REGIMES:
        scan = JAX.compile_seconds.get(("scan", (steps, batch), momentum, *[len(SIZES)], *SIZES))
        step = JAX.compile_seconds.get(("loop", (batch,), momentum, *[len(SIZES)], *SIZES))
        if scan is not None and step is not None:
            found[name] = (scan, step)
    return found


def ratio_table(rows: list[dict], ceiling: dict[int, float]) -> str:
    """The compiled engine against each peer, and its arithmetic rate against sgemm's."""
    peers = [peer for peer in (JAX_SCAN, JAX_LOOP, MANUAL_LOOP, LESSON_LOOP) if peer in CONTENDERS]
    header = ["regime"] + [f"vs {peer} (target)" for peer in peers]
    header += ["FLOPs/step", "GFLOP/s", "share of sgemm 1 / 2 threads (target)"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for row in rows:
        cells = [row["regime"]]
        for peer in peers:
            target = TARGETS.get(peer)
            ratio = row["compiled"] / row[peer]
            mark = ""
            if target is not None:
                mark = f" (>= {target:g}x{'' if ratio >= target else ', missed'})"
            cells.append(f"{ratio:,.2f}x{mark}")
        flops = flops_per_step(SIZES, row["batch"])
        gflops = flops * row["compiled"] / 1e9
        share_target = TARGET_CEILING_SHARE.get(row["regime"])
        share_2 = gflops / ceiling[max(ceiling)]
        note = ""
        if share_target is not None:
            note = f" (>= {share_target:.0%}{'' if share_2 >= share_target else ', missed'})"
        shares = " / ".join(f"{gflops / ceiling[t]:.0%}" for t in sorted(ceiling))
        cells += [f"{flops:,}", f"{gflops:.1f}", shares + note]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def time_table(rows: list[dict], ceiling: dict[int, float]) -> str:
    """Where a step of the compiled engine goes: its matrix products at the sgemm rate (the
    arithmetic's lower bound), and the rest (memory traffic, small-kernel inefficiency,
    the per-step work outside the products: gather, loss, SGD update, checks)."""
    best = max(ceiling.values())
    lines = [
        (
            "| regime | us per step | products at the best sgemm rate (us) | the rest (us) "
            "| the rest, share |"
        ),
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        step = 1e6 / row["compiled"]
        products = flops_per_step(SIZES, row["batch"]) / (best * 1e9) * 1e6
        rest = step - products
        lines.append(
            f"| {row['regime']} | {step:.2f} | {products:.2f} | {rest:.2f} | {rest / step:.0%} |"
        )
    return "\n".join(lines)


def sgemm_ceiling(quick: bool) -> dict[int, float]:
    """OpenBLAS sgemm GFLOP/s on 1 thread and on all, the best of several runs: the
    machine's practical limit for float32 matrix products."""
    from threadpoolctl import threadpool_limits

    n = 256 if quick else 2048
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    out = np.empty((n, n), np.float32)
    rates = {}
    for threads in sorted({1, CORES}):
        with threadpool_limits(limits=threads, user_api="blas"):
            np.matmul(a, b, out=out)
            best = float("inf")
            for _ in range(3 if quick else 7):
                start = time.perf_counter()
                np.matmul(a, b, out=out)
                best = min(best, time.perf_counter() - start)
        rates[threads] = 2 * n**3 / best / 1e9
    return rates


# Run in a fresh process on an empty Numba cache: import, then one short run per regime,
# each timed; the first run of a layout compiles its loop.
COLD_SCRIPT = """
import json, sys, time, warnings
start = time.perf_counter()
import numpy as np
import scratch_gd as sg
seconds = {"import": time.perf_counter() - start}
x, y = sg.lesson_data(1000, dtype=np.float32)
for name, batch, momentum in json.loads(sys.argv[1]):
    began = time.perf_counter()
    model = sg.MLP([1, 32, 32, 1], dtype=np.float32, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimizer = sg.SGD(model.parameters(), lr=1e-4, momentum=momentum)
    sg.train(model, optimizer, x, y, batch_size=batch, steps=3, engine="compiled",
             progress=False)
    seconds[name] = time.perf_counter() - began
print(json.dumps(seconds))
"""


def cold_compile_seconds() -> dict[str, float]:
    """Seconds of import and of each regime's first ``engine="compiled"`` run, on an empty
    Numba cache, in a fresh Python, then the same with the cache it filled."""
    import json

    root = Path(__file__).resolve().parents[1]  # measure the checkout this file is in
    results = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        regimes = json.dumps([list(regime) for regime in REGIMES])
        for label in ("cold", "warm"):
            command = [sys.executable, "-c", COLD_SCRIPT, regimes]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            results[label] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def compile_table(ours: dict[str, dict[str, float]], theirs: dict[str, tuple[float, float]]) -> str:
    lines = [
        (
            "| regime | ours, empty Numba cache | ours, cache filled | JAX lax.scan (whole run) "
            "| JAX jit step |"
        ),
        "|---|---:|---:|---:|---:|",
    ]
    for name, _, _ in REGIMES:
        jax_cells = [f"{value:.2f} s" for value in theirs[name]] if name in theirs else ["-", "-"]
        cells = [name, f"{ours['cold'][name]:.2f} s", f"{ours['warm'][name]:.2f} s", *jax_cells]
        lines.append("| " + " | ".join(cells) + " |")
    total = sum(ours["cold"][name] for name, _, _ in REGIMES)
    lines.append(
        f"| all three (target <= {TARGET_COLD_COMPILE:g} s) | {total:.2f} s"
        f"{'' if total <= TARGET_COLD_COMPILE else ' (missed)'} "
        f"| {sum(ours['warm'][name] for name, _, _ in REGIMES):.2f} s "
        f"| {sum(v[0] for v in theirs.values()):.2f} s | {sum(v[1] for v in theirs.values()):.2f} s |"
    )
    lines.append(
        f"\nImport of scratch_gd before that: {ours['cold']['import']:.2f} s cold, "
        f'{ours["warm"]["import"]:.2f} s warm. Ours: the first 3-step `train(engine="compiled")` '
        "of each regime in a fresh process, one after the other (a layout's loop compiles "
        "once, on its first use); JAX: `jit(...).lower(...).compile()`."
    )
    return "\n".join(lines)


def regime_chart(
    rows: list[dict],
    ceiling: dict[int, float],
    compile_seconds: dict[str, dict[str, float]] | None,
    jax_compile: dict[str, tuple[float, float]],
    steps: int,
    path: Path,
) -> None:
    panels = 3 if compile_seconds else 2
    figure, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.6),
                                gridspec_kw={"width_ratios": [2.2, 1, 1][:panels]})  # fmt: skip
    speed, rate = axes[0], axes[1]
    width = 0.84 / len(CONTENDERS)
    regimes = np.arange(len(rows))
    labels = [f"{row['regime']}\nbatch {row['batch']}" for row in rows]
    for index, contender in enumerate(CONTENDERS):
        positions = regimes + (index - (len(CONTENDERS) - 1) / 2) * width
        values = [row[contender] for row in rows]
        speed.bar(positions, values, width, color=f"C{index}", label=contender)
        if contender == "compiled":
            for position, row in zip(positions, rows, strict=True):
                notes = [f"{row['compiled'] / row[peer]:,.1f}x {peer}"
                         for peer in (JAX_SCAN, MANUAL_LOOP) if peer in row]  # fmt: skip
                speed.annotate("\n".join(notes), (position, row["compiled"]), ha="left",
                               va="bottom", fontsize=7, rotation=0)  # fmt: skip
    speed.set_xticks(regimes, labels)
    speed.set_yscale("log")
    top = max(row[contender] for row in rows for contender in CONTENDERS)
    speed.set_ylim(top=top * 8)
    speed.set_ylabel("training steps per second (log scale)")
    speed.set_title("Steps per second, higher is better\n(labels: compiled engine's speed-up)")
    speed.grid(axis="y", alpha=0.3, which="both")
    speed.legend(fontsize=7, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))

    peers = [c for c in ("compiled", JAX_SCAN, MANUAL_LOOP) if c in CONTENDERS]
    bar = 0.8 / len(peers)
    for index, contender in enumerate(peers):
        gflops = [flops_per_step(SIZES, row["batch"]) * row[contender] / 1e9 for row in rows]
        colour = f"C{CONTENDERS.index(contender)}"
        rate.bar(regimes + (index - (len(peers) - 1) / 2) * bar, gflops, bar, color=colour,
                 label=contender)  # fmt: skip
    for threads, style in zip(sorted(ceiling), (":", "--"), strict=False):
        rate.axhline(ceiling[threads], color="black", linestyle=style, linewidth=1,
                     label=f"OpenBLAS sgemm, {threads} thread{'s' * (threads > 1)} "
                           f"(measured, {ceiling[threads]:.0f})")  # fmt: skip
    rate.set_xticks(regimes, labels)
    rate.set_yscale("log")
    rate.set_ylabel("GFLOP/s of the matrix products (log scale)")
    rate.set_title("Arithmetic rate against the measured ceiling")
    rate.grid(axis="y", alpha=0.3, which="both")
    rate.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12))

    if compile_seconds:
        compile_axis = axes[2]
        names = [name for name, _, _ in REGIMES]
        cold = [compile_seconds["cold"][name] for name in names]
        warm = [compile_seconds["warm"][name] for name in names]
        scan = [jax_compile.get(name, (0.0, 0.0))[0] for name in names]
        positions = np.arange(len(names))
        compile_axis.bar(positions - 0.27, cold, 0.27, color="C0", label="ours, empty Numba cache")
        for position, seconds in zip(positions, cold, strict=True):
            note = f"{seconds:.1f} s" if seconds >= 0.05 else "0 s: loop\nalready built"
            compile_axis.annotate(note, (position - 0.27, seconds), ha="center", va="bottom",
                                  fontsize=7)  # fmt: skip
        compile_axis.bar(positions, warm, 0.27, color="C0", alpha=0.45,
                         label="ours, Numba cache filled")  # fmt: skip
        compile_axis.bar(positions + 0.27, scan, 0.27, color=f"C{CONTENDERS.index(JAX_SCAN)}"
                         if JAX_SCAN in CONTENDERS else "C1", label="JAX lax.scan compile")  # fmt: skip
        compile_axis.set_xticks(positions, [label for label in labels])
        compile_axis.set_ylabel("seconds before the first step")
        compile_axis.set_title(
            "Start-up, regimes run in this order\n(ours: a layout compiles on first use)"
        )
        compile_axis.grid(axis="y", alpha=0.3)
        compile_axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    figure.suptitle(
        f"The lesson's three regimes, 1-32-32-1 MLP, float32, {steps} steps a run", y=1.03
    )
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


def scale_chart(rows: list[dict], n: int, ceiling: dict[int, float], path: Path) -> None:
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
    for index, (cores, rate) in enumerate(sorted(ceiling.items())):
        right.axhline(rate, color="grey", linestyle=":", linewidth=1)
        right.annotate(  # 1 thread's label on the left, 2 threads' on the right: no overlap
            f"OpenBLAS sgemm, {cores} thread{'s' if cores > 1 else ''} (measured)",
            (0.99 if index else 0.01, rate),
            xycoords=("axes fraction", "data"),
            fontsize=8,
            color="grey",
            va="bottom",
            ha="right" if index else "left",
        )
    left.set(xscale="log", yscale="log", xlabel="batch size (samples per step, log scale)",
             ylabel="training steps per second (log scale)", title="Steps per second")  # fmt: skip
    right.set(xscale="log", yscale="log", xlabel="batch size (samples per step, log scale)",
              ylabel="GFLOP/s of the matrix products (log scale)",
              title="Arithmetic rate: where it flattens, compute dominates")  # fmt: skip
    right.set_ylim(top=max(ceiling.values()) * 2)
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
    root = str(Path(__file__).resolve().parents[1])  # measure the checkout this file is in
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
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
        lines = [f"- warm (Numba cache filled): {warm:.2f} s (median of {repeats}; target < 2.5 s)"]
        if quick:
            lines.append("- cold: skipped in --quick mode")
        else:
            empty = Path(folder) / "empty-cache"
            empty.mkdir()
            cold = compare_seconds(extra, str(empty), out)
            lines.append(f"- cold (NUMBA_CACHE_DIR an empty folder): {cold:.2f} s (target < 8 s)")
    command = "python -m scratch_gd compare --no-progress --out <tmp>" + (
        " --steps 20" if quick else ""
    )
    return [f"`{command}`, wall-clock seconds including Python start-up:", ""] + lines


# --- the report ------------------------------------------------------------------------------


def machine(ceiling: dict[int, float]) -> list[str]:
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
        f"- JAX {jax_version()} (CPU, XLA)"
        if have_jax()
        else "- JAX: not installed (`pip install -e '.[bench]'`), so its contenders are left out",
        "- Ceiling, measured: OpenBLAS sgemm (float32) "
        + ", ".join(
            f"{rate:.0f} GFLOP/s on {t} thread{'s' * (t > 1)}"
            for t, rate in sorted(ceiling.items())
        ),
    ]


def jax_version() -> str:
    import jax

    return jax.__version__


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
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs/bench"),
        help="output folder (default runs/bench, ignored by git; plots refreshes the README's)",
    )
    parser.add_argument("--no-scale", action="store_true", help="skip the bigger problems")
    parser.add_argument("--no-compare", action="store_true", help="skip timing `compare`")
    parser.add_argument(
        "--no-cold", action="store_true", help="skip the cold-compile timing (an empty cache)"
    )
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
    ceiling = sgemm_ceiling(options.quick)
    print("sgemm ceiling: " + ", ".join(f"{t} threads {r:.0f} GFLOP/s" for t, r in ceiling.items()))
    print(f"The lesson's three regimes, {steps} steps per run, best of {repeats} runs:")
    rows = measure_regimes(steps, repeats)
    lines = ["# Training speed: the lesson's three regimes, and bigger problems", ""]
    lines += machine(ceiling)
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
            f"lesson sampling; {steps} steps per run, best of {repeats} runs after a warm-up. "
            "Training steps per second (higher is better):"
        ),
        "",
        regime_table(rows),
        "",
        (
            "Speed-ups of the compiled engine over each peer (ratios of the rows above), and "
            "its arithmetic rate (matrix products only) against the measured sgemm ceiling:"
        ),
        "",
        ratio_table(rows, ceiling),
        "",
        (
            "Where a compiled step's time goes: its matrix products if they ran at the best "
            "sgemm rate above, and everything else:"
        ),
        "",
        time_table(rows, ceiling),
    ]
    print("\n".join(lines[-13:]))
    compile_seconds = None
    jax_compile = jax_compile_seconds(steps)
    if not (options.quick or options.no_cold):
        print("Timing the first compile, on an empty Numba cache ...", flush=True)
        compile_seconds = cold_compile_seconds()
        lines += ["", "## Start-up: compiling before the first step", ""]
        lines.append(compile_table(compile_seconds, jax_compile))
        print(lines[-1])
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
    regime_chart(rows, ceiling, compile_seconds, jax_compile, steps, written[1])
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
        scale_chart(scale_rows, scale["n"], ceiling, written[-1])
    atomic_write_text(written[0], "\n".join(lines) + "\n")
    print("wrote " + ", ".join(str(path) for path in written))


if __name__ == "__main__":
    main()
