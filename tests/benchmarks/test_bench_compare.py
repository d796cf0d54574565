"""make compare's timing benchmark runs in quick mode and measures what it says it does."""

from __future__ import annotations

from . import load_benchmark


def test_quick_run_times_both_modes_warm_and_cold(tmp_path, capsys):
    bench = load_benchmark("bench_compare")
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "compare_bench.md").read_text()
    assert text in capsys.readouterr().out
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in bench.MODES:
            rows[cells[0], cells[1]] = (
                float(cells[3].removesuffix(" s")),
                float(cells[5].removesuffix(" s")),
            )
    assert set(rows) == {(mode, cache) for mode in bench.MODES for cache in ("warm", "cold")}
    for (mode, cache), (wall, training) in rows.items():
        assert 0 < training < wall, (mode, cache)
    # An empty cache means compiling the kernels: if the cold runs took no longer to
    # train than the warm ones, they did not get an empty cache.
    for mode in bench.MODES:
        assert rows[mode, "cold"][1] > rows[mode, "warm"][1] + 0.5, mode
