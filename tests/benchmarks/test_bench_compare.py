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
            wall, training = (float(cells[i].removesuffix(" s")) for i in (3, 5))
            rows[cells[0], cells[1]] = wall, training, int(cells[7])
    assert set(rows) == {(mode, cache) for mode in bench.MODES for cache in ("warm", "cold")}
    for (mode, cache), (wall, training, _) in rows.items():
        assert 0 < training < wall, (mode, cache)
    # Cold runs start from an empty Numba cache (every kernel compiled again), warm runs
    # from the one the first runs filled: counted in the cache folder, not read off a clock.
    for mode in bench.MODES:
        assert rows[mode, "cold"][2] == 0 and rows[mode, "warm"][2] > 0, mode
