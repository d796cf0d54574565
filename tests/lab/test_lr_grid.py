"""`lr-grid`: final loss over learning rate x momentum; divergence marked, best found."""

import csv
import json

import numpy as np
import pytest
from matplotlib.image import imread

import scratch_gd as sg
from scratch_gd.cli.main import main
from scratch_gd.lab import lr_grid


def write_csv(path, rows=60, seed=0):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(rows, 3))
    table[:, 2] = np.sin(table[:, 0]) + 0.5 * table[:, 1] + 0.1 * rng.normal(size=rows)
    lines = ["u,v,target"] + [",".join(f"{value:.6f}" for value in row) for row in table]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_grid_on_a_csv_marks_the_divergent_cells(tmp_path, capsys):
    data = write_csv(tmp_path / "data.csv")
    out = tmp_path / "out"
    code = main(["lr-grid", "--data", str(data), "--target", "target", "--lrs", "1e-2,1e4",
                 "--momenta", "0,0.9", "--steps", "40", "--batch-size", "8", "--out", str(out),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 of 4 cells diverged" in printed
    with open(out / "lr_grid.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(float(r["lr"]), float(r["momentum"])) for r in rows] == [
        (0.01, 0.0), (10000.0, 0.0), (0.01, 0.9), (10000.0, 0.9)
    ]  # fmt: skip
    for row in rows:
        if float(row["lr"]) == 1e4:  # a step of 10^4 blows up at once
            assert row["final_loss"] == "inf" and int(row["diverged_at"]) < 40
            assert row["best"] == "0"
        else:
            assert 0 < float(row["final_loss"]) < 10 and row["diverged_at"] == ""
            assert 0 < float(row["validation_loss"]) < 10  # the CSV's held-out 20%
    assert float(rows[2]["effective_step"]) == pytest.approx(0.1)  # 0.01 / (1 - 0.9)
    best = [r for r in rows if r["best"] == "1"]
    assert len(best) == 1
    assert float(best[0]["final_loss"]) == min(float(r["final_loss"]) for r in rows)
    record = json.loads((out / "lr_grid.json").read_text())
    assert record["config"]["data"]["target"] == "target"
    assert record["results"]["diverged_cells"] == 2
    assert record["results"]["best"]["lr"] == 0.01
    cells = record["results"]["cells"]
    assert len(cells) == 4 and cells[1]["final_loss"] is None  # inf is recorded as null
    image = imread(out / "lr_grid.png")  # three panels: train, validation, effective step
    assert image.shape[1] > 1500 and np.std(image) > 0.01


def test_a_cell_that_learns_is_the_best_and_not_dead():
    x = np.linspace(-1, 1, 40).reshape(-1, 1).astype(np.float32)
    y = (x**2).astype(np.float32)
    result = lr_grid.lr_momentum_grid(
        [1e-2], [0.0], x, y, batch_size=40, steps=30, sizes=[1, 8, 1], seed=0
    )
    cell = result.cells[0]
    assert not cell.diverged and not cell.dead
    assert cell.final_loss < result.initial_loss  # it learned something
    assert result.best is cell
    assert result.ceiling == lr_grid.BLOWN_UP * result.initial_loss


def test_a_network_with_every_relu_off_is_dead():
    x = np.linspace(-1, 1, 40).reshape(-1, 1)
    y = x**2
    model = sg.MLP([1, 8, 8, 1], dtype=np.float64, seed=0, backend="numpy")
    assert not lr_grid.predicts_a_constant(model, x, y)
    first = model.linears[0]
    first.weight.data[...] = 0.0
    first.bias.data[...] = -1.0  # every hidden unit of layer 1 is off for every input
    assert lr_grid.predicts_a_constant(model, x, y)


def test_table_lists_every_cell_and_the_best():
    cells = [
        lr_grid.Cell(0.1, 0.0, 10, 0.5, None, None, False),
        lr_grid.Cell(1.0, 0.0, 3, float("inf"), None, 2, False),
    ]
    result = lr_grid.GridResult([0.1, 1.0], [0.0], cells, 10, 4, initial_loss=2.0)
    table = lr_grid.grid_table(result)
    assert "diverged" in table and "best: lr 0.1, momentum 0" in table
    assert np.isnan(result.losses()[0, 1]) and result.losses()[0, 0] == 0.5


def test_interrupted_grid_writes_nothing_and_exits_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lr_grid, "run_cell", interrupted)
    code = main(["lr-grid", "--n", "20", "--out", str(tmp_path), "--no-progress"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--lrs", "0,1"], ["--lrs", "above 0"]),
        (["--momenta", "0.5,x"], ["--momenta", "not a number"]),
        (["--steps", "0"], ["--steps", "at least 1"]),
        (["--batch-size", "5000"], ["--batch-size", "larger than the training data"]),
        (["--nesterov"], ["--nesterov", "momentum above 0"]),
        (["--data", "no_such_file.csv", "--target", "y"], ["--data", "no such file"]),
    ],
)
def test_bad_flags_get_one_clear_line(flags, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lr-grid", "--out", str(tmp_path), "--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err
