"""The training loop's bookkeeping: evaluations with the clock paused, and nothing else moved."""

import importlib

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.reference import linear as linear_module
from scratch_gd.reference.loop import train_loop


def run(evaluate=None, eval_every=None, sampling="lesson", steps=50):
    x, y = sg.lesson_data(200, dtype=np.float64)
    model = sg.MLP([1, 8, 1], dtype=np.float64, seed=0)
    optimizer = sg.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    history = sg.train(
        model,
        optimizer,
        x,
        y,
        batch_size=16,
        steps=steps,
        sampling=sampling,
        progress=False,
        evaluate=evaluate,
        eval_every=eval_every,
    )
    return model, history


@pytest.mark.parametrize("sampling", ["lesson", "epoch"])
def test_evaluating_does_not_change_the_run(sampling):
    _, plain = run(sampling=sampling)
    _, watched = run(lambda model: {"zero": 0.0}, eval_every=7, sampling=sampling)
    np.testing.assert_array_equal(plain.loss, watched.loss)
    np.testing.assert_array_equal(plain.samples_seen, watched.samples_seen)


def test_evaluations_come_at_start_every_k_steps_and_at_the_end():
    x, y = sg.lesson_data(200, dtype=np.float64)

    def full_loss(model):
        return {"full": sg.MSELoss()(model(x), y)}

    model, history = run(full_loss, eval_every=20, steps=50)
    assert [e.step for e in history.evaluations] == [0, 20, 40, 50]
    assert [e.samples_seen for e in history.evaluations] == [0, 320, 640, 800]
    assert history.evaluations[-1].metrics["full"] == sg.MSELoss()(model(x), y)
    assert history.evaluations[0].metrics["full"] > history.evaluations[-1].metrics["full"]


def test_the_clock_is_paused_while_evaluating(monkeypatch):
    """A fake clock: each reading advances it 1 s, an evaluation 1000 s. None of the
    evaluations' time may reach the training clock (and no real timing is involved)."""
    train_module = importlib.import_module("scratch_gd.run.train")
    now = [0.0]

    class FakeTime:
        @staticmethod
        def perf_counter():
            now[0] += 1.0
            return now[0]

    def slow(model):
        now[0] += 1000.0
        return {}

    monkeypatch.setattr(train_module, "time", FakeTime)
    _, history = run(slow, eval_every=10, steps=50)
    assert len(history.evaluations) == 6
    assert 0 < history.total_seconds < 1000  # readings only; 6000 s of evaluations left out
    clock = [evaluation.seconds for evaluation in history.evaluations]
    assert clock == sorted(clock)
    assert clock[-1] < 1000


def test_eval_every_must_be_positive():
    with pytest.raises(ValueError, match="eval_every"):
        run(lambda model: {}, eval_every=0)


@pytest.mark.parametrize("engine", ["compiled", "layers"])
def test_ctrl_c_while_the_first_chunk_is_drawn_keeps_an_empty_history(engine, monkeypatch):
    """An interrupt before the first step is still a clean, empty, interrupted history."""

    def interrupted(self, steps):
        raise KeyboardInterrupt

    monkeypatch.setattr(sg.BatchSampler, "next_chunk", interrupted)
    x, y = sg.lesson_data(100, dtype=np.float64)
    model = sg.MLP([1, 4, 1], dtype=np.float64, seed=0)
    optimizer = sg.SGD(model.parameters(), lr=1e-3)
    history = sg.train(
        model, optimizer, x, y, batch_size=8, steps=10, engine=engine, progress=False
    )
    assert history.interrupted and history.steps == 0


def test_ctrl_c_while_the_engine_loads_keeps_an_empty_history(monkeypatch):
    train_module = importlib.import_module("scratch_gd.run.train")

    class Interrupted:
        def __init__(self, *args):
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "CompiledEngine", Interrupted)
    x, y = sg.lesson_data(100, dtype=np.float64)
    model = sg.MLP([1, 4, 1], dtype=np.float64, seed=0)
    optimizer = sg.SGD(model.parameters(), lr=1e-3)
    history = sg.train(
        model, optimizer, x, y, batch_size=8, steps=10, engine="compiled", progress=False
    )
    assert history.interrupted and history.steps == 0


def test_ctrl_c_the_moment_the_bar_appears_keeps_an_empty_history(monkeypatch):
    """The bar is the first sign of training a user sees, so a Ctrl-C may land in it."""
    train_module = importlib.import_module("scratch_gd.run.train")

    def bar_then_interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "tqdm", bar_then_interrupt)
    x, y = sg.lesson_data(100, dtype=np.float64)
    model = sg.MLP([1, 4, 1], dtype=np.float64, seed=0)
    optimizer = sg.SGD(model.parameters(), lr=1e-3)
    history = sg.train(model, optimizer, x, y, batch_size=8, steps=10)
    assert history.interrupted and history.steps == 0


@pytest.mark.parametrize("sampling", ["lesson", "epoch"])
def test_train_runs_the_bare_reference_loop_unchanged(sampling):
    """``train()`` is the service around ``reference.loop``: same losses, same weights."""
    x, y = sg.lesson_data(300, dtype=np.float32)
    bare_model = sg.MLP([1, 8, 8, 1], seed=3)
    bare = train_loop(
        bare_model,
        sg.SGD(bare_model.parameters(), lr=1e-3, momentum=0.9),
        x,
        y,
        batch_size=32,
        steps=120,
        seed=5,
        sampling=sampling,
    )
    served_model = sg.MLP([1, 8, 8, 1], seed=3)
    served = sg.train(
        served_model,
        sg.SGD(served_model.parameters(), lr=1e-3, momentum=0.9),
        x,
        y,
        batch_size=32,
        steps=120,
        seed=5,
        sampling=sampling,
        engine="layers",
        progress=False,
        evaluate=lambda model: {},
        eval_every=7,
    )
    np.testing.assert_array_equal(np.array(bare), served.loss)
    for mine, theirs in zip(bare_model.parameters(), served_model.parameters(), strict=True):
        np.testing.assert_array_equal(mine.data, theirs.data)


def test_by_default_train_runs_the_layers_backward_a_learner_reads(monkeypatch):
    calls = []
    original = linear_module.linear_backward

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(linear_module, "linear_backward", counted)
    _, history = run(steps=100)
    assert history.engine == "layers" and history.info["backend"] == "numba"
    # Two Linear layers in [1, 8, 1], every step, plus the warm-up pass before the clock.
    assert len(calls) == 100 * 2 + 2


def test_an_optimizer_of_another_model_is_refused_not_silently_ignored():
    x, y = sg.lesson_data(50, dtype=np.float64)
    model, other = sg.MLP([1, 4, 1], dtype=np.float64), sg.MLP([1, 4, 1], dtype=np.float64)
    with pytest.raises(ValueError, match="not this model's"):
        sg.train(model, sg.SGD(other.parameters()), x, y, batch_size=5, steps=2, progress=False)
    with pytest.raises(TypeError, match="needs an optimizer"):
        sg.train(model, sg.MSELoss(), x, y, batch_size=5, steps=2, progress=False)


def test_a_layer_called_directly_checks_what_it_is_handed():
    layer = sg.Linear(3, 2, dtype=np.float64, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Linear expects input of shape \(N, 3\)"):
        layer(np.ones((4, 2)))
    layer(np.ones((4, 3)))
    with pytest.raises(
        TypeError, match=r"backward takes dL/d\(output\), an array of shape \(4, 2\)"
    ):
        layer.backward(1.5)
