"""The training benchmark runs end to end in quick mode, torch included, and reports sense."""

from __future__ import annotations

import re

from . import load_benchmark


def load_bench():
    return load_benchmark("bench_train")


def numbers(cell: str) -> list[float]:
    return [float(found.replace(",", "")) for found in re.findall(r"[\d,]*\.?\d+", cell)]


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            rows.append(cells)
    return rows


def test_flops_count_the_three_products_of_each_layer():
    bench = load_bench()
    # 1-32-32-1 at batch 1: forward 32 + 1024 + 32 multiply-adds, weight gradients the
    # same, input gradients 1024 + 32 (none for the first layer's input), 2 flops each.
    assert bench.flops_per_step([1, 32, 32, 1], 1) == 2 * (1088 + 1088 + 1056)
    assert bench.flops_per_step([1, 32, 32, 1], 1000) == 1000 * bench.flops_per_step(
        [1, 32, 32, 1], 1
    )


def test_quick_benchmark_writes_tables_and_charts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default folder is relative: it lands here
    bench = load_bench()
    bench.main(["--quick"])

    out = tmp_path / "runs" / "bench"  # ignored by git, so a run never dirties the checkout
    assert sorted(path.name for path in out.iterdir()) == [
        "train_bench.md",
        "train_bench.png",
        "train_scale.png",
    ]
    for name in ("train_bench.png", "train_scale.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "train_bench.md").read_text()
    assert "PyTorch 2.13.0" in text and "Numba" in text and "Load average" in text

    for regime in ("Batch", "Stochastic", "Minibatch (128)"):
        [speeds] = table_rows(text, regime)[:1]
        rates = [numbers(cell)[0] for cell in speeds[3:]]
        assert len(rates) == len(bench.CONTENDERS) and all(rate > 0 for rate in rates), speeds
        ratios = table_rows(text, regime)[1]
        peers = [c for c in bench.CONTENDERS if c in ("JAX lax.scan", "JAX jit loop")]
        peers += ["torch randperm", "torch DataLoader"]
        assert len(ratios) == 1 + len(peers) + 3, ratios
        assert all(numbers(cell)[0] > 0 for cell in ratios[1 : 1 + len(peers)]), ratios
        assert "x (>=" in ratios[1], ratios  # every peer's column names its target
        assert int(ratios[-3].replace(",", "")) == bench.flops_per_step(
            bench.SIZES, dict(Batch=1000, Stochastic=1).get(regime, 128)
        )
    assert "OpenBLAS sgemm (float32)" in text and f"GFLOP/s on {bench.CORES} thread" in text
    scale = [row for row in table_rows(text, "1") + table_rows(text, "2") if len(row) == 5]
    assert len(scale) == 2 * 2 * 2  # thread counts x widths x batches
    assert all(numbers(row[3])[0] > 0 and numbers(row[4])[0] > 0 for row in scale)
    warm = re.search(r"warm \(Numba cache filled\): ([\d.]+) s", text)
    assert warm and float(warm.group(1)) > 0
    assert not (tmp_path / "plots").exists()
