"""`sweep-batch`: samples and seconds to a target loss, batch size by batch size."""

import csv
import json

import numpy as np
import pytest
from matplotlib.image import imread

import scratch_gd as sg
from scratch_gd.cli.main import main
from scratch_gd.lab import sweep_batch
from scratch_gd.lab.race import full_data_loss
from scratch_gd.store.record import read_history_csv


def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_batch_grid_doubles_up_to_the_full_batch():
    assert sweep_batch.batch_grid(1000) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]
    assert sweep_batch.batch_grid(64) == [1, 2, 4, 8, 16, 32, 64]
    assert sweep_batch.batch_grid(1) == [1]


def test_checkpoints_are_every_step_then_ten_percent_apart():
    points = sweep_batch.checkpoints(300)
    assert points[:10] == list(range(1, 11)) and points[-1] == 300
    gaps = np.diff(points) / np.array(points[:-1])
    assert np.all(np.diff(points) > 0) and np.all(gaps[10:-1] <= 0.1 + 1 / 10)
    assert sweep_batch.checkpoints(3) == [1, 2, 3]


def test_full_data_loss_matches_the_mse_of_all_the_data():
    x, y = sg.lesson_data(700, dtype=np.float64)  # more rows than one evaluation block
    model = sg.MLP([1, 8, 1], dtype=np.float64, backend="numpy")
    expected = sg.MSELoss()(model(x), y)
    assert full_data_loss(model, x, y) == pytest.approx(expected, rel=1e-12)


def test_a_race_stops_at_the_first_checkpoint_that_reaches_the_target():
    x, y = sg.lesson_data(64)
    settings = dict(sizes=[1, 8, 1], batch_size=8, lrs=[1e-3, 1e-2], momentum=0.9)
    easy = sweep_batch.race(x, y, target=1e9, max_steps=100, **settings)
    assert all(run.steps == [1] for run in easy.runs)  # everyone is below 1e9 at once
    run, index = easy.winner(1e9)
    assert run.steps[index] == 1
    impossible = sweep_batch.race(x, y, target=1e-9, max_steps=30, **settings)
    assert all(run.steps[-1] == 30 for run in impossible.runs)
    assert impossible.winner(1e-9) is None
    # Every learning rate saw the same batches: the first step's batch loss agrees.
    first = [run.segments[0].loss[0] for run in impossible.runs]
    assert first[0] == first[1]


def test_sweep_command_reports_samples_and_seconds_to_the_target(tmp_path, capsys):
    code = main(["sweep-batch", "--n", "64", "--batch-sizes", "1,8,all", "--lrs", "3e-3,3e-2",
                 "--reference-steps", "60", "--max-steps", "400", "--out", str(tmp_path),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "target loss" in out and "1.2 x" in out
    rows = read_rows(tmp_path / "sweep_batch.csv")
    assert [int(r["batch_size"]) for r in rows] == [1, 8, 64]
    record = json.loads((tmp_path / "sweep_batch.json").read_text())
    target = record["results"]["target"]
    best_full_batch = float(rows[-1]["best_loss"])
    assert target == pytest.approx(1.2 * best_full_batch)  # the default target
    assert all(float(r["target"]) == target for r in rows)
    full = rows[-1]
    assert full["reached"] == "1"  # full batch reached 1/1.2 of the target: it passed it
    for row in rows:
        if row["reached"] != "1":
            assert row["steps"] == "" and row["seconds"] == ""
            continue
        steps, batch = int(row["steps"]), int(row["batch_size"])
        assert int(row["samples"]) == steps * batch
        assert float(row["lr"]) in (3e-3, 3e-2)
        assert 0 < float(row["seconds"]) < 5
        assert float(row["best_loss"]) <= target
    evaluations = read_history_csv(tmp_path / "sweep_batch_evaluations.csv")
    reached = [r for r in rows if r["reached"] == "1"]
    assert sorted(evaluations) == sorted(f"batch {r['batch_size']}" for r in reached)
    for row in reached:
        curve = evaluations[f"batch {row['batch_size']}"]
        # The winner's last checkpoint is the one that reached the target, and no earlier.
        assert curve["step"][-1] == int(row["steps"])
        assert curve["full_loss"][-1] <= target < curve["full_loss"][:-1].min()
    image = imread(tmp_path / "sweep_batch.png")
    assert image.shape[1] > 2 * image.shape[0] and np.std(image) > 0.01  # three panels in a row


def test_an_unreachable_target_is_marked_not_crashed(tmp_path, capsys):
    code = main(["sweep-batch", "--n", "32", "--batch-sizes", "4,all", "--lrs", "1e-3",
                 "--target-loss", "1e-6", "--max-steps", "20", "--out", str(tmp_path),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "not reached within 20 steps: batch 4, 32" in out
    rows = read_rows(tmp_path / "sweep_batch.csv")
    assert [r["reached"] for r in rows] == ["0", "0"]
    assert [r["budget_steps"] for r in rows] == ["20", "20"]
    assert not (tmp_path / "sweep_batch_history.csv").exists()  # no winner to record
    image = imread(tmp_path / "sweep_batch.png")
    assert image.shape[1] > 2 * image.shape[0]


def test_no_reference_when_full_batch_diverges_everywhere(tmp_path, capsys):
    code = main(["sweep-batch", "--n", "32", "--lrs", "1e4,1e5", "--out", str(tmp_path),
                 "--no-progress"])  # fmt: skip
    assert code == 3  # exit_codes.DIVERGED
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--target-loss" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--target-loss", "1", "--target-factor", "2"], ["--target-factor", "drop"]),
        (["--target-factor", "0.5"], ["--target-factor", "1 or more"]),
        (["--target-loss", "-1"], ["--target-loss", "above 0"]),
        (["--batch-sizes", "0,4"], ["--batch-sizes", ">= 1"]),
        (["--batch-sizes", "4,5000"], ["--batch-sizes", "larger than the training data"]),
        (["--lrs", "1e-3,nan"], ["--lrs", "finite"]),
        (["--max-steps", "0"], ["--max-steps", "at least 1"]),
        (["--momentum", "0", "--nesterov"], ["--nesterov", "momentum"]),
        (["--validation", "1"], ["--validation", "0 <= F < 1"]),
    ],
)
def test_bad_flags_get_one_clear_line(flags, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep-batch", "--out", str(tmp_path), "--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err


def test_with_validation_the_target_comes_from_the_early_stopping_point():
    run = sweep_batch.LrRun(0.1, steps=[1, 2, 3], full_loss=[0.9, 0.5, 0.1])
    run.validation_loss = [0.95, 0.6, 0.8]  # best at step 2: beyond it, memorisation
    other = sweep_batch.LrRun(0.01, steps=[1, 2, 3], full_loss=[1.0, 0.95, 0.9])
    other.validation_loss = [1.0, 0.97, 0.93]
    race = sweep_batch.Race(batch_size=10, runs=[run, other], n_samples=10)
    loss, how = sweep_batch.reference_loss(race)
    assert loss == 0.5 and "validation" in how
    run.validation_loss, other.validation_loss = [], []  # no validation data
    loss, how = sweep_batch.reference_loss(race)
    assert loss == 0.1 and loss == race.best_loss


def test_axis_labels_skip_a_power_of_two_crowding_the_full_batch():
    assert sweep_batch.tick_sizes([1, 2, 256, 353]) == [1, 2, 353]
    assert sweep_batch.tick_sizes([1, 2, 512, 1000]) == [1, 2, 512, 1000]
