"""The kernel benchmark runs end to end in quick mode and writes a sensible table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_kernels.py"


def test_quick_benchmark_writes_table_and_plot(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_kernels", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--quick", "--out", str(tmp_path)])

    assert (tmp_path / "kernels_gflops.png").stat().st_size > 0
    text = (tmp_path / "kernels_bench.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| float")]
    # 2 sizes + 3 MLP shapes, for 2 dtypes and 2 thread counts.
    assert len(rows) == 5 * 2 * 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        numbers = [float(cell) for cell in cells[3:] if cell != "-"]
        assert len(numbers) >= 3 and all(number > 0 for number in numbers), row
    assert any("n=32" in row for row in rows)
    assert any("1000x32" in row for row in rows)
    # The MLP's shapes also race the small-layer kernels the Linear layer uses.
    for row in rows:
        small = [cell.strip() for cell in row.strip("|").split("|")][-2:]
        if "x32" in row:
            assert all(float(cell) > 0 for cell in small), row
        else:
            assert small == ["-", "-"], row
