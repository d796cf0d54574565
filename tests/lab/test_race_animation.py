"""`compare --animate`: the film of the three regimes' fitted curves, made from the race's own runs."""

import json

import numpy as np
import pytest
from PIL import Image

from scratch_gd.cli.main import main
from scratch_gd.lab import race_animation
from scratch_gd.lab.race import FULL_LOSS, RegimeConfig, predict, run_regime
from scratch_gd.store.datasets import load_dataset


def test_compare_animate_writes_a_small_gif_of_enough_frames(tmp_path, capsys):
    code = main(["compare", "--animate", "--steps", "60", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    gif = tmp_path / "compare_fits.gif"
    assert gif.exists()
    assert gif.stat().st_size < 2 * 1024 * 1024
    with Image.open(gif) as image:
        assert image.format == "GIF"
        assert image.n_frames >= 20  # 60 steps, a frame every 2: 31 distinct frames
        image.seek(image.n_frames - 1)
        last = np.asarray(image.convert("RGB"), dtype=float)
        image.seek(0)
        first = np.asarray(image.convert("RGB"), dtype=float)
    assert np.abs(last - first).mean() > 0.1  # the curves (and the text) moved
    record = json.loads((tmp_path / "compare.json").read_text())
    assert "compare_fits.gif" in record["figures"]
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left nothing behind


def test_without_animate_there_is_no_gif(tmp_path):
    assert (
        main(["compare", "--steps", "5", "--n", "50", "--out", str(tmp_path), "--no-progress"]) == 0
    )
    assert not (tmp_path / "compare_fits.gif").exists()


def test_the_frames_are_the_race_runs_own_predictions():
    dataset = load_dataset("lesson", n=200)
    film = race_animation.Film(dataset)
    every = film.every(30)
    assert every == 1  # fewer steps than FRAMES: a frame per step
    result = run_regime(
        RegimeConfig(batch_size=32, momentum=0.9, lr=1e-3),
        dataset.x_train,
        dataset.y_train,
        sizes=[1, 8, 1],
        steps=30,
        seed=3,
        dtype=np.dtype("float32"),
        progress=False,
        eval_every=every,
        watch=film.take(),
    )
    (take,) = film.takes
    evaluations = result.history.evaluations
    assert len(take) == len(evaluations) == 31  # one picture per evaluation, start included
    np.testing.assert_array_equal(take[-1], predict(result.model, film.grid)[:, 0])
    assert evaluations[-1].metrics[FULL_LOSS] == pytest.approx(result.full_loss)
    assert not np.allclose(take[0], take[-1])  # training moved the curve


def test_film_every_aims_for_about_forty_frames():
    assert race_animation.film_every(1000) == 25  # 41 frames
    assert race_animation.film_every(60) == 2  # 31 frames
    assert race_animation.film_every(7) == 1


@pytest.mark.parametrize("extra", [["--fair"], ["--data", "WIDE"]])
def test_animate_refuses_what_it_cannot_film(tmp_path, capsys, extra):
    if extra[-1] == "WIDE":
        wide = tmp_path / "wide.csv"
        rows = "\n".join(f"{i},{i % 7},{i * 0.5}" for i in range(40))
        wide.write_text("a,b,target\n" + rows + "\n")
        extra = ["--data", str(wide), "--target", "target"]
    with pytest.raises(SystemExit) as stop:
        main(["compare", "--animate", *extra, "--out", str(tmp_path / "out"), "--no-progress"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "--animate" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out").exists()
