"""The public API, used exactly as the README shows it."""

import warnings

import numpy as np
import pytest

import scratch_gd as sg


@pytest.fixture
def data():
    return sg.lesson_data(dtype=np.float64)


def test_readme_example_runs_and_learns(data):
    x, y = data
    model = sg.MLP([1, 32, 32, 1], dtype=np.float64, seed=0)
    params = model.parameters()
    assert all(isinstance(p, sg.Parameter) for p in params)
    loss_fn = sg.MSELoss()
    opt = sg.SGD(params, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    assert isinstance(loss, float)
    grad_x = model.backward(loss_fn.backward())
    assert grad_x.shape == x.shape
    assert all(np.any(p.grad != 0) for p in params)
    before = [p.data.copy() for p in params]
    opt.step()
    assert all(not np.array_equal(b, p.data) for b, p in zip(before, params, strict=True))

    history = sg.train(model, opt, x, y, batch_size=128, steps=300, seed=0, progress=False)
    assert isinstance(history.loss, np.ndarray) and history.loss.shape == (300,)
    assert history.loss[-50:].mean() < 0.5 * history.loss[:10].mean()
    assert history.samples_seen[-1] == 300 * 128
    assert np.all(np.diff(history.seconds) >= 0)


def test_gradients_accumulate_until_zero_grad(data):
    x, y = data
    model = sg.MLP([1, 4, 1], dtype=np.float64, seed=0)
    loss_fn = sg.MSELoss()
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    once = [p.grad.copy() for p in model.parameters()]
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    for g, p in zip(once, model.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, 2 * g)
    sg.SGD(model.parameters(), lr=0.1).zero_grad()
    assert all(np.all(p.grad == 0) for p in model.parameters())


def test_float32_by_default_float64_on_request():
    assert all(p.data.dtype == np.float32 for p in sg.MLP([1, 3, 1]).parameters())
    model = sg.MLP([1, 3, 1], dtype=np.float64)
    assert all(p.data.dtype == np.float64 for p in model.parameters())
    assert model(np.zeros((2, 1), dtype=np.float32)).dtype == np.float64


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = (sg.MLP([1, 8, 1], seed=s) for s in (5, 5, 6))
    assert all(
        np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )
    assert not np.array_equal(a.parameters()[0].data, c.parameters()[0].data)


def test_relu_gradient_at_exactly_zero_is_zero():
    grad = sg.relu_backward(np.ones(3), sg.relu_forward(np.array([-1.0, 0.0, 2.0]))[1])
    assert grad.tolist() == [0.0, 0.0, 1.0]


def test_mse_gradient_is_two_over_element_count_times_error():
    loss_fn = sg.MSELoss()
    out, target = np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))
    assert loss_fn(out, target) == pytest.approx(30 / 4)
    np.testing.assert_allclose(loss_fn.backward(), 2 / 4 * out)


def test_mse_refuses_a_flat_target_instead_of_broadcasting():
    with pytest.raises(ValueError, match=r"same shape.*reshape"):
        sg.MSELoss()(np.zeros((5, 1)), np.zeros(5))


def test_mse_refuses_mismatched_dtypes():
    with pytest.raises(ValueError, match="same dtype"):
        sg.MSELoss()(np.zeros((5, 1)), np.zeros((5, 1), dtype=np.float32))


def test_mlp_refuses_wrong_feature_count():
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\)"):
        sg.MLP([3, 4, 1])(np.zeros((2, 2)))


def test_nesterov_and_first_step_buffer_follow_torch_formulas():
    """Hand-computed: first step v = g (not (1 - dampening) g); nesterov uses g + m v."""
    param = sg.Parameter(np.array([1.0]))
    opt = sg.SGD([param], lr=0.1, momentum=0.5, dampening=0.5)
    param.grad[:] = 2.0
    opt.step()  # v = 2, p = 1 - 0.1 * 2
    assert param.data[0] == pytest.approx(0.8)
    param.grad[:] = 2.0
    opt.step()  # v = 0.5 * 2 + 0.5 * 2 = 2, p = 0.8 - 0.2
    assert param.data[0] == pytest.approx(0.6)

    param = sg.Parameter(np.array([1.0]))
    opt = sg.SGD([param], lr=0.1, momentum=0.5, nesterov=True, weight_decay=1.0)
    param.grad[:] = 1.0
    opt.step()  # g = 1 + 1 * 1 = 2, v = 2, step = g + 0.5 v = 3
    assert param.data[0] == pytest.approx(0.7)


def test_train_stops_and_reports_divergence(data):
    x, y = data
    model = sg.MLP([1, 16, 1], dtype=np.float64, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = sg.SGD(model.parameters(), lr=10.0, momentum=0.9)
        history = sg.train(model, opt, x, y, batch_size=100, steps=500, progress=False)
    assert history.diverged_at is not None
    assert history.steps == history.diverged_at < 500
    assert np.all(np.isfinite(history.loss))
