"""Run records: the JSON says what ran, and the CSVs give back the curves exactly."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from scratch_gd import MLP, SGD, lesson_data, train
from scratch_gd.run.history import Evaluation, History
from scratch_gd.store.record import (
    command_line,
    json_safe,
    read_history_csv,
    write_run_record,
)


def small_history(steps: int, batch_size: int, seed: int) -> History:
    rng = np.random.default_rng(seed)
    history = History(
        loss=rng.random(steps) * 10,
        samples_seen=np.arange(1, steps + 1) * batch_size,
        seconds=np.cumsum(rng.random(steps) * 1e-3),
        batch_size=batch_size,
        n_samples=20,
        sampling="lesson",
        engine="layers",
    )
    history.evaluations = [
        Evaluation(0, 0, 0.0, {"full_loss": 9.5, "validation_loss": 11.0}),
        Evaluation(steps, steps * batch_size, float(history.seconds[-1]), {"full_loss": 1 / 3}),
    ]
    return history


def test_round_trip_gives_back_every_number_exactly(tmp_path: Path) -> None:
    histories = {"GD": small_history(7, 20, seed=1), "SGD, mini-batch": small_history(4, 5, 2)}
    written = write_run_record(
        tmp_path, "sweep_batch", {"lr": 0.1}, seed=3, timings={"train": 1.5}, histories=histories
    )
    names = [path.name for path in written]
    assert names == ["sweep_batch.json", "sweep_batch_history.csv", "sweep_batch_evaluations.csv"]

    steps = read_history_csv(tmp_path / "sweep_batch_history.csv")
    assert list(steps) == ["GD", "SGD, mini-batch"]  # a comma in a run name survives
    for run, history in histories.items():
        np.testing.assert_array_equal(steps[run]["loss"], history.loss)
        np.testing.assert_array_equal(steps[run]["seconds"], history.seconds)
        np.testing.assert_array_equal(steps[run]["samples_seen"], history.samples_seen)
        np.testing.assert_array_equal(steps[run]["step"], np.arange(history.steps))
        assert steps[run]["step"].dtype == np.int64

    evaluations = read_history_csv(tmp_path / "sweep_batch_evaluations.csv")
    gd = evaluations["GD"]
    np.testing.assert_array_equal(gd["step"], [0, 7])
    np.testing.assert_array_equal(gd["samples_seen"], [0, 140])
    assert gd["full_loss"][1] == 1 / 3
    # The second evaluation did not measure validation loss: it reads back as NaN, not 0.
    assert gd["validation_loss"][0] == 11.0 and math.isnan(gd["validation_loss"][1])


def test_json_records_config_versions_machine_and_results(tmp_path: Path) -> None:
    config = {
        "lrs": np.array([0.1, 0.01]),
        "batch": np.int64(5),
        "out": tmp_path / "plots",
        "sizes": (1, 32, 1),
        "momentum": np.float32(0.5),
    }
    results = {"final": {"GD": np.float64(0.25), "SGD": float("nan")}, "ok": np.bool_(True)}
    figure = tmp_path / "fair_steps.png"
    write_run_record(
        tmp_path,
        "compare",
        config,
        seed=np.int64(7),
        timings={"total": 2.0},
        results=results,
        figures=[figure],
    )
    text = (tmp_path / "compare.json").read_text()
    assert "NaN" not in text  # strict JSON: non-finite numbers are null
    record = json.loads(text)
    assert record["command"] == "compare"
    assert record["argv"] == sys.argv
    assert record["config"] == {
        "lrs": [0.1, 0.01],
        "batch": 5,
        "out": str(tmp_path / "plots"),
        "sizes": [1, 32, 1],
        "momentum": 0.5,
    }
    assert record["seed"] == 7
    assert record["results"] == {"final": {"GD": 0.25, "SGD": None}, "ok": True}
    assert record["figures"] == ["fair_steps.png"]
    assert record["timings"] == {"total": 2.0}
    assert record["versions"]["numpy"] == np.__version__
    assert {"python", "numba", "matplotlib", "tqdm", "scratch_gd"} <= set(record["versions"])
    assert record["machine"]["cpu_count"] >= 1
    assert record["created"].endswith("Z")  # UTC, ISO 8601
    assert record["runs"] == {}
    # No histories given: no CSVs written.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["compare.json"]


def test_torch_version_recorded_only_when_torch_was_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch  # imported here, so the record must mention it

    write_run_record(tmp_path, "noise", {}, seed=0, timings={})
    versions = json.loads((tmp_path / "noise.json").read_text())["versions"]
    assert versions["torch"].startswith(torch.__version__.split("+")[0])

    # A run that never imported torch or scikit-learn does not claim to depend on them.
    monkeypatch.delitem(sys.modules, "torch")
    monkeypatch.delitem(sys.modules, "sklearn", raising=False)
    write_run_record(tmp_path, "noise", {}, seed=0, timings={})
    versions = json.loads((tmp_path / "noise.json").read_text())["versions"]
    assert "torch" not in versions and "scikit-learn" not in versions


def test_no_evaluations_means_no_evaluations_csv(tmp_path: Path) -> None:
    history = small_history(3, 20, seed=0)
    history.evaluations = []
    written = write_run_record(
        tmp_path, "momentum", {}, seed=0, timings={}, histories={"m": history}
    )
    assert [path.name for path in written] == ["momentum.json", "momentum_history.csv"]
    with (tmp_path / "momentum_history.csv").open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["run", "step", "loss", "samples_seen", "seconds"]
    assert len(rows) == 1 + 3


def test_a_real_training_run_round_trips(tmp_path: Path) -> None:
    x, y = lesson_data(n=30)
    model = MLP([1, 8, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)

    def evaluate(model: MLP) -> dict[str, float]:
        return {"full_loss": float(np.mean((model(x) - y) ** 2))}

    history = train(
        model,
        optimizer,
        x,
        y,
        batch_size=5,
        steps=12,
        progress=False,
        evaluate=evaluate,
        eval_every=5,
    )
    write_run_record(tmp_path, "compare", {}, seed=0, timings={}, histories={"SGD": history})
    back = read_history_csv(tmp_path / "compare_history.csv")["SGD"]
    np.testing.assert_array_equal(back["loss"], history.loss)
    evaluations = read_history_csv(tmp_path / "compare_evaluations.csv")["SGD"]
    np.testing.assert_array_equal(evaluations["step"], [0, 5, 10, 12])
    runs = json.loads((tmp_path / "compare.json").read_text())["runs"]
    assert runs["SGD"]["steps"] == 12 and runs["SGD"]["samples_seen"] == 60


def test_bad_command_name_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'sweep_batch'"):
        write_run_record(tmp_path, "sweep-batch", {}, seed=0, timings={})
    assert list(tmp_path.iterdir()) == []


def test_unrecordable_config_names_where_it_is(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"config\['model'\] is a object"):
        write_run_record(tmp_path, "compare", {"model": object()}, seed=0, timings={})
    assert list(tmp_path.iterdir()) == []


def test_json_safe_converts_nested_numpy() -> None:
    value = {1: [np.arange(3), {"x": np.float64("inf")}], "s": {2, 1}}
    assert json_safe(value) == {"1": [[0, 1, 2], {"x": None}], "s": [1, 2]}


def test_read_refuses_a_csv_that_is_not_a_history(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="first column must be 'run'"):
        read_history_csv(path)
    path.write_text("run,step,loss\nA,0\n")
    with pytest.raises(ValueError, match="line 2 has 2 fields but the header has 3"):
        read_history_csv(path)


def test_command_line_can_be_pasted_back_into_a_shell() -> None:
    argv = ["/somewhere/scratch_gd/__main__.py", "compare", "--data", "my data.csv"]
    assert command_line(argv) == "python -m scratch_gd compare --data 'my data.csv'"
    assert command_line(["tool.py", "--x", "1"]) == "tool.py --x 1"


def test_reading_a_history_counts_the_bytes_read(tmp_path: Path, monkeypatch) -> None:
    # A pipe or device reports size 0 and may never end: the reader must stop by itself.
    import os
    import subprocess
    import sys

    from scratch_gd.store import record

    fifo = tmp_path / "history.csv"
    os.mkfifo(fifo)
    monkeypatch.setattr(record, "MAX_HISTORY_BYTES", 4096)
    writer = subprocess.Popen(
        [sys.executable, "-c", f"open({str(fifo)!r}, 'w').write('run,step\\n' + 'a,1\\n' * 4096)"],
        stderr=subprocess.DEVNULL,
    )
    try:
        with pytest.raises(ValueError, match="larger than"):
            record.read_history_csv(fifo)
    finally:
        writer.kill()
        writer.wait()
