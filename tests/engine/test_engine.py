"""The compiled engine against the layer-by-layer reference, on the same weights and batches.

The reference is ``engine="layers"`` on an MLP with ``backend="numpy"``: plain NumPy
forward and backward, the optimiser of ``sgd.py``. Both engines draw the same batches
from the same seed, so after hundreds of steps their losses and weights may differ only
by rounding (sums taken in another order), not by a single different step.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.engine import columns as engine_columns
from scratch_gd.engine import compiled as engine_module

train_module = importlib.import_module("scratch_gd.run.train")

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}

SGD_OPTIONS = {
    "plain": dict(lr=1e-2),
    "momentum": dict(lr=1e-3, momentum=0.9),
    "nesterov": dict(lr=1e-3, momentum=0.9, nesterov=True),
    "dampening": dict(lr=1e-3, momentum=0.9, dampening=0.5),
    "weight decay": dict(lr=1e-3, momentum=0.9, weight_decay=1e-2),
    "maximize": dict(lr=1e-6, momentum=0.5, maximize=True),
}


def relative_gap(ours: np.ndarray, reference: np.ndarray) -> float:
    """Largest entrywise gap, relative to the largest entry of the reference."""
    scale = max(float(np.max(np.abs(reference))), 1e-30)
    return float(np.max(np.abs(np.asarray(ours) - reference))) / scale


def make_data(sizes, n=200, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, sizes[0]))
    y = np.sin(x.sum(axis=1, keepdims=True)) + 0.1 * rng.standard_normal((n, sizes[-1]))
    return x.astype(dtype), y.astype(dtype)


def run(engine, sizes, dtype, options, *, steps, batch_size, x, y, seed=0, **train_kwargs):
    backend = "numpy" if engine == "layers" else "numba"
    model = sg.MLP(sizes, dtype=dtype, seed=3, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # momentum >= 1 warns, by design
        optimizer = sg.SGD(model.parameters(), **options)
    history = sg.train(
        model,
        optimizer,
        x,
        y,
        batch_size=batch_size,
        steps=steps,
        seed=seed,
        engine=engine,
        progress=False,
        **train_kwargs,
    )
    return model, optimizer, history


def flat(arrays) -> np.ndarray:
    return np.concatenate([np.ravel(array) for array in arrays])


def assert_engines_agree(record_error, label, dtype, compiled, layers):
    """Losses, weights and momentum buffers within TOLERANCE of the reference.

    Each is measured as one vector, against the largest entry of the reference: a single
    bias near zero would otherwise show its rounding error as a huge relative error.
    The momentum buffer shrinks towards 0 near a minimum, so it is measured by what its
    difference would do to the weights on the next step: lr * |dv| against the weights.
    """
    (model_c, opt_c, hist_c), (model_l, opt_l, hist_l) = compiled, layers
    assert hist_c.engine == "compiled" and hist_l.engine == "layers"
    assert hist_c.steps == hist_l.steps
    np.testing.assert_array_equal(hist_c.samples_seen, hist_l.samples_seen)
    gaps = {
        "loss": relative_gap(hist_c.loss, hist_l.loss),
        "weights": relative_gap(
            flat(p.data for p in model_c.parameters()), flat(p.data for p in model_l.parameters())
        ),
    }
    assert [v is None for v in opt_c.velocity] == [v is None for v in opt_l.velocity]
    if opt_l.velocity[0] is not None:
        velocity_gap = np.max(np.abs(flat(opt_c.velocity) - flat(opt_l.velocity)))
        weights = np.max(np.abs(flat(p.data for p in model_l.parameters())))
        gaps["momentum"] = float(opt_l.lr * velocity_gap / weights)
    record_error(f"(e) compiled vs layers, {label}, {np.dtype(dtype).name}", max(gaps.values()))
    assert max(gaps.values()) < TOLERANCE[dtype], gaps


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sampling", ["lesson", "epoch"])
@pytest.mark.parametrize("name", list(SGD_OPTIONS))
def test_every_sgd_option_matches_the_layer_path(name, sampling, dtype, record_error):
    sizes = [1, 32, 32, 1]
    x, y = make_data(sizes, dtype=dtype)
    kwargs = dict(steps=300, batch_size=24, x=x, y=y, sampling=sampling)
    compiled = run("compiled", sizes, dtype, SGD_OPTIONS[name], **kwargs)
    layers = run("layers", sizes, dtype, SGD_OPTIONS[name], **kwargs)
    assert_engines_agree(record_error, "SGD options", dtype, compiled, layers)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", ["1", "full", "uneven epochs"])
@pytest.mark.parametrize("sizes", [[1, 32, 32, 1], [3, 7, 2], [2, 16, 16, 16, 1], [4, 1]], ids=str)
def test_architectures_and_batch_sizes_match_the_layer_path(sizes, batch, dtype, record_error):
    x, y = make_data(sizes, n=150, dtype=dtype)
    # 150 = 4 * 37 + 2: epoch sampling ends every epoch with a batch of 2.
    batch_size, sampling = {"1": (1, "lesson"), "full": (150, "lesson")}.get(batch, (37, "epoch"))
    options = dict(lr=2e-3, momentum=0.9, weight_decay=1e-3)
    kwargs = dict(steps=200, batch_size=batch_size, x=x, y=y, sampling=sampling)
    compiled = run("compiled", sizes, dtype, options, **kwargs)
    layers = run("layers", sizes, dtype, options, **kwargs)
    assert_engines_agree(record_error, "architectures", dtype, compiled, layers)
    if batch == "uneven epochs":
        assert set(np.diff(compiled[2].samples_seen[:10])) == {37, 2}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_batches_in_blocks_match_the_layer_path_on_any_thread_count(
    dtype, monkeypatch, record_error
):
    """Batches of 700 run in blocks (more than BLOCK_SAMPLES samples), shared between
    threads; epoch sampling over 1600 samples adds a short batch of 200 every epoch.
    However many threads share the blocks, the run is the same to the last bit."""
    sizes = [2, 32, 32, 1]
    x, y = make_data(sizes, n=1600, dtype=dtype)
    options = dict(lr=1e-2, momentum=0.9, nesterov=True)
    kwargs = dict(steps=100, batch_size=700, x=x, y=y, sampling="epoch")
    runs = {}
    for threads in (1, 2, 3, None):  # None: the engine picks by speed, chunk by chunk
        monkeypatch.setattr(engine_module, "THREADS", threads)
        runs[threads] = run("compiled", sizes, dtype, options, **kwargs)
    layers = run("layers", sizes, dtype, options, **kwargs)
    assert_engines_agree(record_error, "blocks and threads", dtype, runs[1], layers)
    assert 700 > 2 * engine_columns.BLOCK_SAMPLES
    assert set(np.diff(runs[1][2].samples_seen[:6])) == {700, 200}
    for threads, (model, _, history) in runs.items():
        if threads is not None:
            assert set(history.info["steps_per_thread_count"]) == {threads}
        assert history.info["layout"] == "feature-major"
        np.testing.assert_array_equal(history.loss, runs[1][2].loss)
        for ours, theirs in zip(model.parameters(), runs[1][0].parameters(), strict=True):
            np.testing.assert_array_equal(ours.data, theirs.data)


def test_the_lesson_regimes_with_momentum_one_stay_close(record_error):
    """Momentum 1 never forgets a rounding difference, so only a loose bound holds there."""
    x, y = sg.lesson_data(dtype=np.float64)
    for batch_size in (1000, 128):
        kwargs = dict(steps=300, batch_size=batch_size, x=x, y=y)
        options = dict(lr=1e-4, momentum=1.0)
        (_, _, hist_c) = run("compiled", [1, 32, 32, 1], np.float64, options, **kwargs)
        (_, _, hist_l) = run("layers", [1, 32, 32, 1], np.float64, options, **kwargs)
        gap = relative_gap(hist_c.loss, hist_l.loss)
        record_error("(e) compiled vs layers, lesson regimes, momentum 1, float64", gap)
        assert gap < 1e-9


def test_divergence_stops_both_engines_at_the_same_step():
    x, y = sg.lesson_data(dtype=np.float64)
    results = [
        run(engine, [1, 16, 1], np.float64, dict(lr=10.0, momentum=0.9), steps=500,
            batch_size=100, x=x, y=y)
        for engine in ("compiled", "layers")
    ]  # fmt: skip
    (_, _, compiled), (_, _, layers) = results
    assert compiled.diverged_at is not None
    assert compiled.diverged_at == layers.diverged_at < 500
    assert compiled.steps == layers.steps == compiled.diverged_at
    assert compiled.info["not_finite"] == layers.info["not_finite"]
    assert np.all(np.isfinite(compiled.loss))
    np.testing.assert_allclose(compiled.loss, layers.loss, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [[1, 32, 32, 1], [3, 7, 2], [2, 16, 16, 16, 1], [4, 1]], ids=str)
def test_first_gradients_match_the_layer_path(sizes, dtype, record_error):
    """One step from the initial weights, far from any minimum, where no sum cancels."""
    x, y = make_data(sizes, n=60, dtype=dtype)
    for batch_size in (1, 13, 60):
        kwargs = dict(steps=1, batch_size=batch_size, x=x, y=y)
        compiled = run("compiled", sizes, dtype, dict(lr=1e-3), **kwargs)[0]
        layers = run("layers", sizes, dtype, dict(lr=1e-3), **kwargs)[0]
        gap = relative_gap(
            flat(p.grad for p in compiled.parameters()), flat(p.grad for p in layers.parameters())
        )
        record_error(f"(e) compiled vs layers, first gradient, {np.dtype(dtype).name}", gap)
        assert gap < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_update_that_overflows_stops_training_even_with_a_finite_loss(dtype):
    """A model y = w x + b, w tiny, and one enormous x among zeros: the step that draws
    it has a finite loss (w x)^2, but its gradient 2 (w x) x overflows, and so do the
    weights after the update."""
    huge = 1e159 if dtype == np.float64 else 1e25
    x = np.zeros((20, 1), dtype=dtype)
    x[7] = huge
    y = np.zeros((20, 1), dtype=dtype)
    results = {}
    for engine in ("compiled", "layers"):
        model = sg.MLP([1, 1], dtype=dtype, seed=0, backend="numpy")
        model.parameters()[0].data[...] = 1e-10
        optimizer = sg.SGD(model.parameters(), lr=1e-2)
        history = sg.train(model, optimizer, x, y, batch_size=1, steps=300, engine=engine,
                           progress=False)  # fmt: skip
        results[engine] = history
        assert history.engine == engine
        assert history.info["not_finite"] == "parameters"
        assert history.diverged_at is not None and history.diverged_at > 0
        assert history.steps == history.diverged_at
        assert np.all(np.isfinite(history.loss))
        assert not np.all(np.isfinite(model.parameters()[0].data))
    assert results["compiled"].diverged_at == results["layers"].diverged_at
    np.testing.assert_allclose(results["compiled"].loss, results["layers"].loss, rtol=1e-5)


@pytest.mark.parametrize("sampling", ["lesson", "epoch"])
def test_evaluations_see_the_same_weights_in_both_engines(sampling, record_error):
    sizes = [1, 32, 32, 1]
    x, y = make_data(sizes)

    def full_loss(model):
        return {"full": sg.MSELoss()(model(x), y)}

    histories = [
        run(engine, sizes, np.float64, dict(lr=1e-3, momentum=0.9), steps=120, batch_size=16,
            x=x, y=y, sampling=sampling, evaluate=full_loss, eval_every=25)[2]
        for engine in ("compiled", "layers")
    ]  # fmt: skip
    compiled, layers = histories
    assert [e.step for e in compiled.evaluations] == [0, 25, 50, 75, 100, 120]
    assert [e.step for e in compiled.evaluations] == [e.step for e in layers.evaluations]
    assert [e.samples_seen for e in compiled.evaluations] == [
        e.samples_seen for e in layers.evaluations
    ]
    ours = np.array([e.metrics["full"] for e in compiled.evaluations])
    theirs = np.array([e.metrics["full"] for e in layers.evaluations])
    assert ours[0] == theirs[0]  # before any step: the very same weights
    record_error("(e) compiled vs layers, evaluations, float64", relative_gap(ours, theirs))
    assert relative_gap(ours, theirs) < 1e-12
    clock = [e.seconds for e in compiled.evaluations]
    assert clock == sorted(clock)


@pytest.mark.parametrize("first, second", [("compiled", "layers"), ("layers", "compiled")])
def test_momentum_buffers_carry_over_between_engines(first, second, record_error):
    """100 steps in one engine then 100 in the other == 200 steps in the reference."""
    sizes = [1, 32, 32, 1]
    x, y = make_data(sizes)
    options = dict(lr=1e-3, momentum=0.9, dampening=0.3)

    def two_runs(engines):
        model = sg.MLP(sizes, dtype=np.float64, seed=3, backend="numpy")
        optimizer = sg.SGD(model.parameters(), **options)
        losses = []
        for seed, engine in enumerate(engines):
            history = sg.train(model, optimizer, x, y, batch_size=16, steps=100, seed=seed,
                               engine=engine, progress=False)  # fmt: skip
            assert history.engine == engine
            losses.append(history.loss)
        return model, optimizer, np.concatenate(losses)

    model, optimizer, losses = two_runs([first, second])
    ref_model, ref_optimizer, ref_losses = two_runs(["layers", "layers"])
    gaps = [relative_gap(losses, ref_losses)]
    for ours, theirs in zip(model.parameters(), ref_model.parameters(), strict=True):
        gaps.append(relative_gap(ours.data, theirs.data))
    for ours, theirs in zip(optimizer.velocity, ref_optimizer.velocity, strict=True):
        gaps.append(relative_gap(ours, theirs))
    record_error("(e) engines taking turns vs layers only, float64", max(gaps))
    assert max(gaps) < 1e-12, gaps


@pytest.mark.parametrize("engine", ["compiled", "layers"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_seed_gives_bit_identical_runs(engine, dtype):
    sizes = [1, 32, 32, 1]
    x, y = make_data(sizes, dtype=dtype)
    options = dict(lr=1e-3, momentum=0.9)
    first, second, other = (
        run(engine, sizes, dtype, options, steps=300, batch_size=8, x=x, y=y, seed=seed)
        for seed in (5, 5, 6)
    )
    np.testing.assert_array_equal(first[2].loss, second[2].loss)
    for ours, theirs in zip(first[0].parameters(), second[0].parameters(), strict=True):
        np.testing.assert_array_equal(ours.data, theirs.data)
    assert not np.array_equal(first[2].loss, other[2].loss)


def test_chunk_sizes_do_not_change_the_run(monkeypatch):
    """Chunks are sized by the clock, so they vary from run to run; results must not."""
    sizes = [1, 32, 32, 1]
    x, y = make_data(sizes)
    options = dict(lr=1e-3, momentum=0.9)
    for sampling in ("lesson", "epoch"):
        kwargs = dict(steps=200, batch_size=12, x=x, y=y, sampling=sampling)
        usual = run("compiled", sizes, np.float64, options, **kwargs)[2]
        with monkeypatch.context() as patch:
            patch.setattr(train_module, "CHUNK_STEPS", 3)
            tiny = run("compiled", sizes, np.float64, options, **kwargs)[2]
        np.testing.assert_array_equal(usual.loss, tiny.loss)
        np.testing.assert_array_equal(usual.samples_seen, tiny.samples_seen)


def test_auto_picks_compiled_when_it_applies_and_layers_otherwise():
    x, y = sg.lesson_data(200, dtype=np.float64)
    model = sg.MLP([1, 8, 1], dtype=np.float64)
    history = sg.train(model, sg.SGD(model.parameters(), lr=1e-3), x, y, batch_size=10,
                       steps=5, progress=False, engine="auto")  # fmt: skip
    assert history.engine == "compiled"

    last_layer_only = sg.SGD(model.parameters()[2:], lr=1e-3)
    history = sg.train(model, last_layer_only, x, y, batch_size=10, steps=5, progress=False,
                       engine="auto")  # fmt: skip
    assert history.engine == "layers"
    with pytest.raises(ValueError, match=r"engine='compiled' cannot.*model.parameters\(\)"):
        sg.train(model, last_layer_only, x, y, batch_size=10, steps=5, engine="compiled")

    reshaped = sg.MLP([1, 8, 1], dtype=np.float64)
    reshaped.parameters()[0].data = np.zeros((4, 1))  # no longer what sizes [1, 8, 1] need
    with pytest.raises(ValueError, match=r"shape \(4, 1\) where the sizes need \(8, 1\)"):
        sg.train(reshaped, sg.SGD(reshaped.parameters()), x, y, batch_size=10, steps=5,
                 engine="compiled")  # fmt: skip

    class Tweaked(sg.MLP):
        pass

    tweaked = Tweaked([1, 8, 1], dtype=np.float64)
    history = sg.train(tweaked, sg.SGD(tweaked.parameters(), lr=1e-3), x, y, batch_size=10,
                       steps=5, progress=False)  # fmt: skip
    assert history.engine == "layers"


def test_unknown_engine_is_a_clear_error():
    x, y = sg.lesson_data(50)
    model = sg.MLP([1, 4, 1])
    with pytest.raises(ValueError, match="unknown engine 'fast'; choose one of auto, compiled"):
        sg.train(model, sg.SGD(model.parameters()), x, y, batch_size=5, steps=5, engine="fast")


def test_ctrl_c_after_a_compiled_chunk_keeps_its_steps_and_weights(monkeypatch):
    sizes = [1, 32, 32, 1]
    x, y = make_data(sizes)
    real = engine_module.train_steps
    calls = []

    def interrupted_after_second_chunk(*args):
        real(*args)
        calls.append(len(args[3]) - 1)  # args[3] = starts: this chunk's steps
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if Ctrl-C landed right after the call returned

    monkeypatch.setattr(train_module, "CHUNK_STEPS", 10)
    monkeypatch.setattr(engine_module, "train_steps", interrupted_after_second_chunk)
    model, optimizer, history = run("compiled", sizes, np.float64, dict(lr=1e-3, momentum=0.9),
                                    steps=100, batch_size=8, x=x, y=y)  # fmt: skip
    monkeypatch.undo()
    assert history.interrupted and history.diverged_at is None
    assert len(calls) == 2 and history.steps == sum(calls)
    reference = run("layers", sizes, np.float64, dict(lr=1e-3, momentum=0.9),
                    steps=history.steps, batch_size=8, x=x, y=y)  # fmt: skip
    np.testing.assert_allclose(history.loss, reference[2].loss, rtol=1e-12)
    for ours, theirs in zip(model.parameters(), reference[0].parameters(), strict=True):
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12, atol=1e-14)
    for ours, theirs in zip(optimizer.velocity, reference[1].velocity, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
