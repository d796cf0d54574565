"""`noise`: per-sample gradients, the 1/B law, and the subcommand's outputs."""

import csv
import itertools
import json

import numpy as np
import pytest
from matplotlib.image import imread

import scratch_gd as sg
from scratch_gd.cli.main import main
from scratch_gd.lab import noise


def flat_gradient(model: sg.MLP) -> np.ndarray:
    return np.concatenate([param.grad.ravel() for param in model.parameters()])


@pytest.mark.parametrize("sizes", [[1, 16, 16, 1], [3, 7, 2]])
def test_per_sample_gradients_average_to_the_batch_gradient(sizes, record_error):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, sizes[0]))
    y = rng.normal(size=(40, sizes[-1]))
    model = sg.MLP(sizes, dtype=np.float64, seed=3, backend="numpy")
    gradients = noise.per_sample_gradients(model, x, y)
    assert gradients.shape == (40, sum(p.data.size for p in model.parameters()))
    batch = np.array([0, 3, 4, 11, 25, 39])
    loss = sg.MSELoss()
    model.zero_grad()
    loss(model(x[batch]), y[batch])
    model.backward(loss.backward())
    expected = flat_gradient(model)
    error = np.max(np.abs(gradients[batch].mean(axis=0) - expected)) / np.max(np.abs(expected))
    record_error("noise: mean of per-sample grads vs backward", error)
    assert error < 1e-12


def test_predictions_are_exact_over_every_possible_batch():
    """Enumerate every batch of a 6-sample population: the mean squared deviation is
    exactly sigma^2/B with replacement and sigma^2/B (N-B)/(N-1) without."""
    rng = np.random.default_rng(0)
    gradients = rng.normal(size=(6, 4))
    centred = gradients - gradients.mean(axis=0)
    sigma2 = np.sum(centred**2) / 6
    for batch_size in (1, 2, 3):
        ordered = itertools.product(range(6), repeat=batch_size)  # with replacement
        with_replacement = np.mean([np.sum(centred[list(b)].mean(0) ** 2) for b in ordered])
        subsets = itertools.combinations(range(6), batch_size)  # without
        without = np.mean([np.sum(centred[list(b)].mean(0) ** 2) for b in subsets])
        assert with_replacement == pytest.approx(
            noise.predicted_variance(sigma2, 6, batch_size, replacement=True), rel=1e-12
        )
        assert without == pytest.approx(
            noise.predicted_variance(sigma2, 6, batch_size, replacement=False), rel=1e-12
        )


def test_batches_without_replacement_hold_distinct_samples():
    batches = noise.draw_batches(20, 7, 50, replacement=False, seed=0)
    assert batches.shape == (50, 7)
    assert all(len(set(row)) == 7 for row in batches)
    repeated = noise.draw_batches(20, 7, 200, replacement=True, seed=0)
    assert any(len(set(row)) < 7 for row in repeated)  # with replacement, repeats happen


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_noise_command_measures_the_one_over_b_law(tmp_path, capsys):
    code = main(["noise", "--n", "64", "--draws", "400", "--train-steps", "30",
                 "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "noise scale" in out and "after 30 steps" in out
    rows = read_csv(tmp_path / "noise.csv")
    grid = [1, 2, 4, 8, 16, 32, 64]
    assert len(rows) == 2 * len(grid) * 2  # two sets of weights x batch sizes x two ways
    assert {row["weights"] for row in rows} == {"initial weights", "after 30 steps"}
    for weights in ("initial weights", "after 30 steps"):
        for replacement in ("0", "1"):
            part = [r for r in rows if r["weights"] == weights and r["replacement"] == replacement]
            assert [int(r["batch_size"]) for r in part] == grid
            measured = np.array([float(r["measured"]) for r in part])
            predicted = np.array([float(r["predicted"]) for r in part])
            error = np.array([float(r["standard_error"]) for r in part])
            sigma2 = float(part[0]["sigma2"])
            assert predicted[0] == pytest.approx(sigma2)
            # The noise falls with the batch: B = 32 is far below B = 1.
            assert measured[5] < measured[0] / 8
            positive = predicted > 0
            # Every measurement sits within 4 standard errors of its prediction.
            z = (measured[positive] - predicted[positive]) / error[positive]
            assert np.all(np.abs(z) < 4), (weights, replacement, z)
            if replacement == "0":  # a batch of all 64 samples is the full gradient
                assert predicted[-1] == 0 and measured[-1] < 1e-20 * sigma2
            else:  # with replacement, B = N still has noise sigma^2 / N
                assert predicted[-1] == pytest.approx(sigma2 / 64)
    record = json.loads((tmp_path / "noise.json").read_text())
    assert record["command"] == "noise" and record["config"]["draws"] == 400
    initial = record["results"]["initial weights"]
    assert initial["n_samples"] == 64 and initial["n_parameters"] == 32 + 32 + 32 * 32 + 32 + 33
    assert initial["noise_scale"] == pytest.approx(
        initial["sigma2"] / initial["full_gradient_norm2"]
    )
    assert (tmp_path / "noise_history.csv").exists()  # the training steps, traceable
    image = imread(tmp_path / "noise.png")
    assert image.shape[1] > 600 and np.std(image) > 0.01


def test_noise_on_a_csv_uses_its_training_split(tmp_path, capsys):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 3))
    table[:, 2] = table[:, 0] - 2 * table[:, 1] + 0.1 * rng.normal(size=50)
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in table))
    out = tmp_path / "out"
    code = main(["noise", "--data", str(path), "--target", "y", "--draws", "50",
                 "--train-steps", "0", "--batch-sizes", "1,5,all", "--out", str(out),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    rows = read_csv(out / "noise.csv")
    assert [int(r["batch_size"]) for r in rows] == [1, 1, 5, 5, 40, 40]  # 40 train, 10 held out
    assert {int(r["n_samples"]) for r in rows} == {40}
    assert "2 features" in capsys.readouterr().out


def test_training_that_diverges_leaves_the_initial_measurement(tmp_path, capsys):
    code = main(["noise", "--n", "32", "--draws", "20", "--train-steps", "50", "--lr", "1e4",
                 "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 3  # exit_codes.DIVERGED: reported, records still written (docs/robustness.md)
    assert "training diverged at step" in capsys.readouterr().err
    rows = read_csv(tmp_path / "noise.csv")
    assert {row["weights"] for row in rows} == {"initial weights"}


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--draws", "0"], ["--draws", "at least 1"]),
        (["--batch-sizes", "5000"], ["--batch-sizes", "larger than the training data"]),
        (["--train-batch", "5000"], ["--train-batch", "larger than the training data"]),
        (["--momentum", "-1"], ["--momentum", ">= 0"]),
        (["--nesterov", "--momentum", "0"], ["--nesterov", "momentum"]),
        (["--hidden", "0"], ["--hidden", ">= 1"]),
    ],
)
def test_bad_flags_get_one_clear_line(flags, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["noise", "--out", str(tmp_path), "--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err
