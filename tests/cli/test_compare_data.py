"""`compare` on real data: a CSV file (or scikit-learn's diabetes set), with validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from scratch_gd.cli.main import main
from scratch_gd.lab import race_plots as plots
from scratch_gd.store.record import read_history_csv


def write_csv(path: Path, rows: int, features: int, seed: int = 0) -> Path:
    """y = a linear mix of the features plus noise, features on very different scales."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)) * np.geomspace(1, 1000, features)
    y = x @ (np.arange(1, features + 1) / np.geomspace(1, 1000, features)) + rng.normal(size=rows)
    header = ",".join([f"f{i}" for i in range(features)] + ["y"])
    lines = [header] + [
        ",".join(f"{v:.6g}" for v in [*row, target]) for row, target in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def assert_png(path: Path) -> None:
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300, path.name
    assert np.std(image) > 0.01, f"{path.name} is blank"


def test_csv_with_several_features_trains_and_records_validation(tmp_path: Path, capsys) -> None:
    data = write_csv(tmp_path / "table.csv", rows=120, features=3)
    out = tmp_path / "plots"
    code = main(["compare", "--data", str(data), "--target", "y", "--validation", "0.25",
                 "--steps", "60", "--batch-sizes", "all,1,16", "--preset", "modern",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "3 features -> y, 90 train / 30 validation, standardised" in printed
    assert "validation loss" in printed  # the summary table gains the column

    record = json.loads((out / "compare.json").read_text())
    assert record["config"]["sizes"] == [3, 32, 32, 1]
    assert record["config"]["data"]["features"] == ["f0", "f1", "f2"]
    assert record["config"]["data"]["n_validation"] == 30
    assert record["config"]["regimes"][0]["batch_size"] == 90  # 'all' is the training rows

    evaluations = read_history_csv(out / "compare_evaluations.csv")
    assert list(evaluations) == ["Batch", "Stochastic", "Minibatch (16)"]
    every = record["config"]["eval_every"]
    for run, table in evaluations.items():
        assert table["step"][0] == 0 and table["step"][-1] == 60
        assert np.all(np.diff(table["step"]) <= every)
        validation = table["validation_loss"]
        assert np.all(np.isfinite(validation)) and np.all(validation > 0)
        # The last evaluation is the final model: the JSON's validation loss, exactly.
        assert validation[-1] == pytest.approx(record["results"][run]["validation_loss"])
        assert table["full_loss"][-1] == pytest.approx(record["results"][run]["full_loss"])
    # Training on standardised data learns: the full batch ends clearly below where it began.
    batch = evaluations["Batch"]
    assert batch["full_loss"][-1] < 0.75 * batch["full_loss"][0]

    names = {path.name for path in out.iterdir()}
    assert "compare_predictions.png" in names
    assert "compare_fits.png" not in names  # no curve over three inputs
    assert not any(name.startswith("lesson_") for name in names)  # the lesson's axis is 0..15
    for name in ("compare_steps.png", "compare_samples.png", "compare_time.png"):
        assert_png(out / name)
    assert_png(out / "compare_predictions.png")
    assert set(record["figures"]) == {name for name in names if name.endswith(".png")}


def test_csv_with_one_feature_gets_a_fits_figure(tmp_path: Path, capsys) -> None:
    data = write_csv(tmp_path / "line.csv", rows=60, features=1)
    out = tmp_path / "plots"
    code = main(["compare", "--data", str(data), "--target", "y", "--steps", "20",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    assert "lesson data only" in capsys.readouterr().out
    assert_png(out / "compare_fits.png")
    assert not (out / "compare_predictions.png").exists()
    # The default split holds out a fifth: 12 of 60 rows.
    assert json.loads((out / "compare.json").read_text())["config"]["data"]["n_validation"] == 12


def test_lesson_data_with_a_validation_split(tmp_path: Path, monkeypatch) -> None:
    def png_bytes(fig):  # figures are built, not rendered: this test is about the numbers
        plots.plt.close(fig)
        return b"not rendered"

    monkeypatch.setattr(plots, "png_bytes", png_bytes)
    code = main(["compare", "--n", "100", "--validation", "0.2", "--steps", "20",
                 "--batch-sizes", "all,10", "--momenta", "0.9,0.9", "--lr", "1e-3",
                 "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 0
    record = json.loads((tmp_path / "compare.json").read_text())
    assert record["config"]["regimes"][0]["batch_size"] == 80
    evaluations = read_history_csv(tmp_path / "compare_evaluations.csv")
    assert set(evaluations) == {"Batch", "Minibatch (10)"}
    assert (tmp_path / "lesson_batch.png").exists()  # lesson data keeps the lesson's figures


def test_diabetes_when_scikit_learn_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is the optional 'diabetes' extra")
    code = main(["compare", "--data", "diabetes", "--steps", "10", "--batch-sizes", "all,32",
                 "--momenta", "0.9,0.9", "--lr", "1e-2", "--out", str(tmp_path),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    record = json.loads((tmp_path / "compare.json").read_text())
    assert record["config"]["sizes"][0] == 10  # ten measurements per patient
    assert "scikit-learn" in record["versions"]
    assert_png(tmp_path / "compare_predictions.png")
