"""`momentum`: the same problem at momentum 0 to 1; 1 never settles."""

import csv
import json
import math

import numpy as np
import pytest
from matplotlib.image import imread

import scratch_gd as sg
from scratch_gd.cli.main import main
from scratch_gd.lab import momentum
from scratch_gd.store.record import read_history_csv


def read_csv(path):
    with open(path, newline="") as file:
        return {float(row["momentum"]): row for row in csv.DictReader(file)}


def test_momentum_one_keeps_moving_while_the_others_settle(tmp_path, capsys):
    code = main(["momentum", "--n", "100", "--steps", "300", "--lr", "3e-3",
                 "--momenta", "0,0.9,1", "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "lr/(1-m)" in out and "m=1: infinite" in out and "m=0.9: 0.03" in out
    rows = read_csv(tmp_path / "momentum.csv")
    assert sorted(rows) == [0.0, 0.9, 1.0]
    assert float(rows[0.9]["effective_step"]) == pytest.approx(0.03)
    assert rows[1.0]["effective_step"] == "inf"
    # Momentum 0.9 drains its velocity and its loss stops climbing back up ...
    assert rows[0.9]["settled"] == "1"
    assert float(rows[0.9]["velocity_end_over_peak"]) < 0.1
    assert float(rows[0.9]["last_quarter_rises"]) < 0.05
    # ... momentum 1 keeps its velocity, and its loss keeps swinging up again.
    assert rows[1.0]["settled"] == "0"
    assert float(rows[1.0]["velocity_end_over_peak"]) > 0.5
    assert float(rows[1.0]["last_quarter_rises"]) > 10 * float(rows[0.9]["last_quarter_rises"])
    assert float(rows[0.9]["final_loss"]) < float(rows[1.0]["final_loss"])
    record = json.loads((tmp_path / "momentum.json").read_text())
    assert record["config"]["batch_size"] == 100  # 'all' by default
    assert record["results"]["momentum 1"]["effective_step"] is None  # JSON has no infinity
    assert record["results"]["momentum 0.9"]["settled"] is True
    evaluations = read_history_csv(tmp_path / "momentum_evaluations.csv")
    assert sorted(evaluations) == ["momentum 0", "momentum 0.9", "momentum 1"]
    one = evaluations["momentum 1"]
    every = record["config"]["eval_every"]
    assert every == 1  # 300 steps / 200 evaluations, at least one step apart
    np.testing.assert_array_equal(one["step"], np.arange(0, 301, every))
    assert np.all(np.isfinite(one["full_loss"])) and one["velocity_norm"][0] == 0
    steps = read_history_csv(tmp_path / "momentum_history.csv")
    assert len(steps["momentum 0.9"]["loss"]) == 300
    image = imread(tmp_path / "momentum.png")
    assert image.shape[1] > 800 and np.std(image) > 0.01


def test_same_batches_and_start_for_every_momentum():
    x, y = sg.lesson_data(50)
    settings = dict(sizes=[1, 8, 1], lr=1e-3, batch_size=10, steps=5, eval_every=5, seed=2)
    first = momentum.run_momentum(0.0, x, y, **settings)
    second = momentum.run_momentum(0.9, x, y, **settings)
    # Step 0's loss is measured before any update: same weights and same batch give the
    # same number; momentum only acts from the second step on.
    assert first.history.loss[0] == second.history.loss[0]
    assert first.full_loss[0] == second.full_loss[0]
    assert first.history.loss[1] == pytest.approx(second.history.loss[1], rel=1e-5)
    assert first.history.loss[-1] != second.history.loss[-1]


def test_velocity_norm_is_the_gradient_at_momentum_zero_and_the_buffer_otherwise():
    model = sg.MLP([1, 4, 1], dtype=np.float64)
    plain = sg.SGD(model.parameters(), lr=0.1, momentum=0)
    heavy = sg.SGD(model.parameters(), lr=0.1, momentum=0.5)
    assert momentum.velocity_norm(plain) == 0 and momentum.velocity_norm(heavy) == 0
    for param in model.parameters():
        param.grad[...] = 1.0
    count = sum(param.data.size for param in model.parameters())
    assert momentum.velocity_norm(plain) == pytest.approx(math.sqrt(count))
    heavy.step()  # the buffer starts as the gradient
    heavy.step()  # then v = 0.5 v + g = 1.5 g
    assert momentum.velocity_norm(heavy) == pytest.approx(1.5 * math.sqrt(count))


def test_a_diverging_momentum_is_reported_not_crashed(tmp_path, capsys):
    code = main(["momentum", "--n", "50", "--steps", "100", "--lr", "5",
                 "--momenta", "0.9,1", "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 3  # exit_codes.DIVERGED: a diverged run is not a success (issue 10, item 13)
    out = capsys.readouterr().out
    assert out.count("diverged at step") == 2
    rows = read_csv(tmp_path / "momentum.csv")
    assert rows[1.0]["diverged_at"] != "" and rows[1.0]["settled"] == "0"
    assert (tmp_path / "momentum.png").exists()


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--momenta", "0,-1"], ["--momenta", ">= 0"]),
        (["--steps", "100", "--eval-every", "500"], ["--eval-every", "at most 100"]),
        (["--batch-size", "0"], ["--batch-size", "at least 1"]),
        (["--batch-size", "5000"], ["--batch-size", "larger than the training data", "'all'"]),
        (["--lr", "0"], ["--lr", "above 0"]),
        (["--nesterov"], ["--nesterov", "momentum above 0"]),
        (["--data", "lesson", "--target", "y"], ["--target", "drop --target"]),
    ],
)
def test_bad_flags_get_one_clear_line(flags, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["momentum", "--out", str(tmp_path), "--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err
