"""The training loop's bookkeeping: evaluations with the clock paused, and nothing else moved."""

import importlib
import time

import numpy as np
import pytest

import scratch_gd as sg


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


def test_the_clock_is_paused_while_evaluating():
    def slow(model):
        time.sleep(0.05)
        return {}

    _, history = run(slow, eval_every=10, steps=50)
    assert len(history.evaluations) == 6
    # Six evaluations slept 0.3 s in all; none of it may show on the training clock.
    assert history.total_seconds < 0.25
    clock = [evaluation.seconds for evaluation in history.evaluations]
    assert clock == sorted(clock)


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
    history = sg.train(model, optimizer, x, y, batch_size=8, steps=10, progress=False)
    assert history.interrupted and history.steps == 0
