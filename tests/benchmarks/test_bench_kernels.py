"""The kernel benchmark runs end to end in quick mode and writes a sensible table."""

from __future__ import annotations

from . import load_benchmark


def test_quick_benchmark_writes_table_and_plot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default folder is relative: it lands here
    bench = load_benchmark("bench_kernels")
    bench.main(["--quick"])

    out = tmp_path / "runs" / "bench"  # ignored by git, so a run never dirties the checkout
    assert (out / "kernels_gflops.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "kernels_bench.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| float")]
    # 2 sizes + 4 MLP shapes, for 2 dtypes and 2 thread counts.
    assert len(rows) == (2 + len(bench.MLP_SHAPES)) * 2 * 2
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        numbers = [float(cell.split()[0]) for cell in cells[3:] if cell != "-"]
        # tiled, matmul, OpenBLAS and the ratio at least, all positive
        assert len(numbers) >= 4 and all(number > 0 for number in numbers), row
    assert any("n=32" in row for row in rows)
    assert sum("1000x32" in row for row in rows) == 3 * 2 * 2
    # The MLP's shapes on one thread carry their target; other rows none.
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert ("(>= 0.6" in cells[-1]) == ("x32" in row and cells[2] == "1"), row
    assert not (tmp_path / "plots").exists()
