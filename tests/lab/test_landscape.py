"""`landscape`: the loss along start-to-end lines and on the PCA plane of the three paths."""

import json

import numpy as np
import pytest
from matplotlib.image import imread

from scratch_gd.cli.main import main
from scratch_gd.lab import landscape
from scratch_gd.lab.race import RegimeConfig
from scratch_gd.store.datasets import load_dataset

SIZES = [1, 8, 8, 1]
DTYPE = np.dtype("float32")


@pytest.fixture(scope="module")
def lesson_runs():
    dataset = load_dataset("lesson", n=300)
    configs = [
        RegimeConfig(300, 1.0, 1e-4),
        RegimeConfig(1, 0.0, 1e-4),
        RegimeConfig(32, 1.0, 1e-4),
    ]
    trajectories = landscape.run_trajectories(
        configs, dataset.x_train, dataset.y_train, sizes=SIZES, steps=60, seed=1, dtype=DTYPE,
        every=3, progress=False,
    )  # fmt: skip
    view = landscape.compute_landscape(
        trajectories, dataset.x_train, dataset.y_train, sizes=SIZES, dtype=DTYPE, resolution=7
    )
    return trajectories, view


def test_line_loss_is_the_start_loss_at_alpha_0_and_the_final_loss_at_alpha_1(lesson_runs):
    trajectories, view = lesson_runs
    zero, one = list(view.alphas).index(0.0), list(view.alphas).index(1.0)
    for t in trajectories:
        line = view.lines[t.name]
        assert line[zero] == pytest.approx(t.full_loss[0], rel=1e-5)  # measured in training
        assert line[one] == pytest.approx(t.result.full_loss, rel=1e-5)
        assert t.steps[0] == 0 and t.steps[-1] == 60
        assert line[zero] > line[one]  # training lowered the loss


def test_every_run_starts_from_the_same_weights_and_snapshots_every_few_steps(lesson_runs):
    trajectories, _ = lesson_runs
    np.testing.assert_array_equal(trajectories[0].steps, np.arange(0, 61, 3))
    for t in trajectories[1:]:
        np.testing.assert_array_equal(t.weights[0], trajectories[0].weights[0])
        assert not np.array_equal(t.weights[-1], trajectories[0].weights[-1])


def test_the_plane_contains_the_start_and_every_path_starts_at_its_origin(lesson_runs):
    trajectories, view = lesson_runs
    start = trajectories[0].weights[0]
    np.testing.assert_allclose(view.directions @ view.directions.T, np.eye(2), atol=1e-12)
    np.testing.assert_array_equal(landscape.project(start[None], start, view.directions), 0)
    assert landscape.off_plane(start[None], start, view.directions)[0] == 0
    for t in trajectories:
        np.testing.assert_array_equal(view.paths[t.name][0], [0.0, 0.0])
        # the shadow of the start is the start: the plane's loss there is the start loss
        assert view.shadow_loss[t.name][0] == pytest.approx(t.full_loss[0], rel=1e-5)
    assert view.a[0] < 0 < view.a[-1] and view.b[0] < 0 < view.b[-1]  # the grid covers w0


def test_the_plane_share_is_what_the_projections_hold(lesson_runs):
    trajectories, view = lesson_runs
    start = trajectories[0].weights[0]
    held = sum(np.sum(view.paths[t.name] ** 2) for t in trajectories)
    total = sum(np.sum((t.weights - start) ** 2) for t in trajectories)
    assert view.plane_share == pytest.approx(held / total, rel=1e-9)
    assert 0 < view.plane_share <= 1


def test_pca_finds_a_plane_that_holds_a_flat_path_exactly():
    rng = np.random.default_rng(0)
    start = rng.normal(size=50)
    basis, _ = np.linalg.qr(rng.normal(size=(50, 2)))
    coordinates = np.cumsum(rng.normal(size=(30, 2)), axis=0)
    coordinates[0] = 0
    weights = start + coordinates @ basis.T

    class Fake:  # only what main_directions reads
        pass

    fake = Fake()
    fake.weights = weights
    directions, share = landscape.main_directions(start, [fake])
    assert share == pytest.approx(1.0)
    np.testing.assert_allclose(landscape.off_plane(weights, start, directions), 0, atol=1e-9)
    # the projection keeps every distance of the flat path
    projected = landscape.project(weights, start, directions)
    np.testing.assert_allclose(
        np.linalg.norm(projected, axis=1), np.linalg.norm(coordinates, axis=1), rtol=1e-9
    )


def test_weights_round_trip_through_one_vector(lesson_runs):
    trajectories, _ = lesson_runs
    model = trajectories[0].result.model
    flat = landscape.flat_weights(model)
    assert flat.shape == (sum(p.data.size for p in model.parameters()),)
    landscape.set_weights(model, flat * 1.0)
    np.testing.assert_array_equal(landscape.flat_weights(model), flat)
    with pytest.raises(ValueError, match="weights for a model of"):
        landscape.set_weights(model, np.concatenate([flat, [1.0]]))


def test_landscape_command_writes_the_figure_and_a_record(tmp_path, capsys):
    code = main(["landscape", "--steps", "60", "--resolution", "9", "--out", str(tmp_path),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "the plane holds" in out
    image = imread(tmp_path / "landscape.png")
    assert image.shape[1] > 800 and np.std(image) > 0.01
    record = json.loads((tmp_path / "landscape.json").read_text())
    assert record["figures"] == ["landscape.png"]
    results = record["results"]
    alphas = results["alphas"]
    assert alphas[0] == -0.25 and alphas[-1] == 1.25
    assert np.shape(results["plane_loss"]) == (9, 9)
    assert sorted(results["regimes"]) == ["Batch", "Minibatch (128)", "Stochastic"]
    for regime in results["regimes"].values():
        line = regime["line_loss"]
        assert line[alphas.index(0.0)] == pytest.approx(regime["start_loss"], rel=1e-5)
        assert line[alphas.index(1.0)] == pytest.approx(regime["final_loss"], rel=1e-5)
        assert regime["path_on_plane"][0] == [0.0, 0.0]
        assert regime["snapshot_steps"][-1] == 60
    assert record["config"]["regimes"][0] == {
        "name": "Batch", "batch_size": 1000, "momentum": 1.0, "lr": 1e-4
    }  # fmt: skip


@pytest.mark.parametrize(
    "flags, complaint",
    [(["--resolution", "2"], "--resolution"), (["--steps", "1"], "--steps"),
     (["--lr", "0"], "--lr"), (["--steps", "x"], "--steps")],
)  # fmt: skip
def test_landscape_refuses_bad_flags_with_one_line(tmp_path, capsys, flags, complaint):
    with pytest.raises(SystemExit) as stop:
        main(["landscape", *flags, "--out", str(tmp_path / "out"), "--no-progress"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip()
    assert complaint in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("engine, backend", [("layers", "numba"), ("compiled", "numpy")])
def test_landscape_says_which_engine_trained(tmp_path, capsys, engine, backend):
    argv = ["landscape", "--steps", "4", "--resolution", "5", "--engine", engine,
            "--backend", backend, "--out", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"engine: {engine},") and f"{backend} backend" in first
    config = json.loads((tmp_path / "landscape.json").read_text())["config"]
    assert (config["engine"], config["backend"]) == (engine, backend)
