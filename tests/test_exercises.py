"""docs/exercises.md: every numeric answer, computed with the library (one test each)."""

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.reference.gradcheck import numeric_gradient, relative_error

PAGE = Path(__file__).resolve().parent.parent / "docs" / "exercises.md"
LESSON = [1, 32, 32, 1]


def lesson_batch(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x, y = sg.lesson_data(dtype="float64")
    batch = next(sg.BatchSampler(len(x), size, seed=seed).batches(1))
    return x[batch], y[batch]


def backward_once(model: sg.MLP, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    loss_fn = sg.MSELoss()
    model.zero_grad()
    out = model(x)
    loss_fn(out, y)
    return out, model.backward(loss_fn.backward())


def a_parameter(value: float, lr: float, momentum: float) -> tuple[sg.Parameter, sg.SGD]:
    param = sg.Parameter(np.array([value]))
    return param, sg.SGD([param], lr=lr, momentum=momentum)


def test_the_page_has_ten_exercises_each_with_an_answer():
    text = PAGE.read_text(encoding="utf-8")
    assert len(re.findall(r"^## \d+\. ", text, flags=re.MULTILINE)) == 10
    assert text.count("<summary>Answer</summary>") == 10


def test_1_the_last_bias_gradient_is_twice_the_mean_error():
    model = sg.MLP(LESSON, dtype="float64", seed=1)
    x, y = lesson_batch(16)
    out, _ = backward_once(model, x, y)
    last = model.linears[-1]
    np.testing.assert_allclose(last.bias.grad, [2 * np.mean(out - y)], rtol=1e-12)

    def loss() -> float:
        return sg.MSELoss()(model(x), y)

    numeric = numeric_gradient(loss, last.bias.data, eps=1e-6)
    np.testing.assert_allclose(numeric, [2 * np.mean(out - y)], rtol=1e-7)


def test_2_gradient_shapes_do_not_depend_on_the_batch():
    for size in (128, 7):
        model = sg.MLP(LESSON, dtype="float64")
        x, y = lesson_batch(size)
        _, grad_x = backward_once(model, x, y)
        assert [linear.weight.grad.shape for linear in model.linears] == [
            (32, 1),
            (32, 32),
            (1, 32),
        ]
        assert [linear.bias.grad.shape for linear in model.linears] == [(32,), (32,), (1,)]
        assert grad_x.shape == (size, 1)


def test_3_the_lesson_network_has_1153_parameters():
    by_formula = sum(fan_in * fan_out + fan_out for fan_in, fan_out in itertools.pairwise(LESSON))
    by_model = sum(param.data.size for param in sg.MLP(LESSON).parameters())
    assert by_formula == by_model == 1153
    middle = sg.MLP(LESSON).linears[1]
    assert (middle.weight.data.size + middle.bias.data.size) / by_model == pytest.approx(
        0.92, abs=0.005
    )


@pytest.mark.parametrize(("factor", "answer"), [(2, 1 / 3), (0.5, 1 / 3), (-1, 1.0), (16, 15 / 17)])
def test_4_a_gradient_k_times_too_big_scores_k_minus_1_over_k_plus_1(factor, answer):
    true = np.random.default_rng(0).standard_normal((32, 32))
    assert relative_error(factor * true, true) == pytest.approx(answer, rel=1e-12)
    assert abs(factor - 1) / (abs(factor) + 1) == pytest.approx(answer)


def test_5_a_thousand_single_sample_steps_see_about_632_samples():
    n = steps = 1000
    expected = n * (1 - (1 - 1 / n) ** steps)
    assert expected == pytest.approx(632.3, abs=0.05)
    seen = [
        len(np.unique(np.concatenate(list(sg.BatchSampler(n, 1, seed=seed).batches(steps)))))
        for seed in range(5)
    ]
    # one run's count has a standard deviation of about 10; five runs average to within 15
    assert np.mean(seen) == pytest.approx(expected, abs=15)


def test_6_a_constant_gradient_makes_the_momentum_velocity_g_over_1_minus_m():
    param, optimizer = a_parameter(0.0, lr=1e-3, momentum=0.9)
    for _ in range(200):
        param.grad[:] = 3.0
        optimizer.step()
    assert optimizer.velocity[0][0] == pytest.approx(3.0 / (1 - 0.9), rel=1e-6)
    assert optimizer.velocity[0][0] == pytest.approx(10 * 3.0, rel=1e-6)


@pytest.mark.parametrize(("lr", "fate"), [(0.9, "shrinks"), (1.0, "flips"), (1.1, "grows")])
def test_7_gradient_descent_on_w_squared_needs_lr_below_1(lr, fate):
    param, optimizer = a_parameter(1.0, lr=lr, momentum=0.0)
    for _ in range(100):
        param.grad[:] = 2 * param.data  # dL/dw of w^2
        optimizer.step()
    size = abs(param.data[0])
    assert {"shrinks": size < 1e-3, "flips": size == pytest.approx(1.0), "grows": size > 1e3}[fate]


def test_8_the_summed_loss_at_lr_is_the_mean_loss_at_batch_times_lr():
    x, y = lesson_batch(32)
    batch = len(x)

    class SummedLoss(sg.MSELoss):
        def backward(self) -> np.ndarray:
            return super().backward() * batch  # d/d(out) of sum = N * d/d(out) of mean

    runs = []
    for loss_fn, lr in ((SummedLoss(), 1e-5), (sg.MSELoss(), 1e-5 * batch)):
        model = sg.MLP(LESSON, dtype="float64", seed=2)
        optimizer = sg.SGD(model.parameters(), lr=lr, momentum=0.9)
        for _ in range(10):
            optimizer.zero_grad()
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            optimizer.step()
        runs.append(model.state_dict())
    for key in runs[0]:
        np.testing.assert_allclose(runs[0][key], runs[1][key], rtol=1e-9, atol=1e-12)


def trained_losses(momentum: float) -> np.ndarray:
    x, y = sg.lesson_data()
    model = sg.MLP(LESSON)
    optimizer = sg.SGD(model.parameters(), lr=1e-3, momentum=momentum)
    history = sg.train(
        model, optimizer, x, y, batch_size=len(x), steps=1000, engine="compiled", progress=False
    )
    return np.asarray(history.loss)


@pytest.fixture(scope="module")
def runs_at_lr_1e3() -> dict[float, np.ndarray]:
    with pytest.warns(UserWarning, match="momentum=1.0"):
        at_1 = trained_losses(1.0)
    return {1.0: at_1, 0.9: trained_losses(0.9)}


def test_9_the_noise_floor_and_a_trained_network_near_it(runs_at_lr_1e3):
    x, y = sg.lesson_data(dtype="float64")
    floor = float(np.mean((y - 0.3 * x**2) ** 2))
    noise = np.random.RandomState(0).randn(1000)
    assert floor == pytest.approx(np.mean(noise**2), rel=1e-12)
    assert floor == pytest.approx(0.976, abs=5e-4)
    final = runs_at_lr_1e3[0.9][-1]
    assert final == pytest.approx(floor, rel=0.05)
    assert final == pytest.approx(0.968, abs=5e-3)


@pytest.mark.filterwarnings("ignore:momentum=1.0")
def test_10_momentum_1_at_lr_1e3_neither_diverges_nor_settles(runs_at_lr_1e3):
    frictionless, damped = runs_at_lr_1e3[1.0], runs_at_lr_1e3[0.9]
    assert len(frictionless) == 1000 and np.all(np.isfinite(frictionless))
    last = frictionless[-200:]
    # How much it swings depends on the CPU's rounding (no friction: nothing is forgotten,
    # measured 1.59 to 1.80 across engines on one machine); that it swings does not.
    assert 1.3 < last.max() / last.min() < 3
    assert damped[-200:].max() / damped[-200:].min() < 1.02
    # the reason it stays bounded: on a*w^2/2, momentum 1 orbits while lr * a < 4
    for lr_times_a, bounded in ((3.9, True), (4.1, False)):
        param, optimizer = a_parameter(1.0, lr=lr_times_a / 2, momentum=1.0)  # L = w^2: a = 2
        largest = 0.0
        for _ in range(500):
            param.grad[:] = 2 * param.data
            optimizer.step()
            largest = max(largest, abs(param.data[0]))
        assert bool(largest < 100) == bounded
