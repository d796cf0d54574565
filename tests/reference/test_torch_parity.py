"""The same network, data and batches in scratch_gd and in torch 2.13 agree step for step."""

import warnings

import numpy as np
import pytest
import torch

import scratch_gd as sg

from .torch_twin import max_relative_difference, torch_twin

torch.set_num_threads(1)
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-4}


def test_torch_is_the_pinned_version():
    assert torch.__version__.split("+")[0] == "2.13.0"


def test_parameters_come_in_torch_order_and_shapes():
    model = sg.MLP([1, 32, 32, 1], seed=0)
    shapes = [p.shape for p in model.parameters()]
    twin_shapes = [tuple(p.shape) for p in torch_twin(model).parameters()]
    assert shapes == twin_shapes == [(32, 1), (32,), (32, 32), (32,), (1, 32), (1,)]


def test_init_follows_torch_distribution():
    """torch's default Linear init is uniform in +-1/sqrt(fan_in) for weight and bias."""
    ours = sg.Linear(64, 4000, rng=np.random.default_rng(0))
    torch.manual_seed(0)
    theirs = torch.nn.Linear(64, 4000)
    bound = 1 / np.sqrt(64)
    for mine, reference in [(ours.weight.data, theirs.weight), (ours.bias.data, theirs.bias)]:
        reference = reference.detach().numpy()
        assert np.abs(mine).max() <= bound
        assert np.abs(mine).max() == pytest.approx(np.abs(reference).max(), rel=0.01)
        assert np.std(mine) == pytest.approx(np.std(reference), rel=0.05)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [[1, 32, 32, 1], [3, 7, 2], [4, 16, 16, 16, 3]], ids=str)
def test_forward_loss_and_every_gradient_match_torch(dtype, sizes, backend, record_error):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, sizes[0])).astype(dtype)
    y = rng.normal(size=(50, sizes[-1])).astype(dtype)
    model = sg.MLP(sizes, dtype=dtype, seed=3, backend=backend)
    net = torch_twin(model)
    loss_fn = sg.MSELoss()

    out = model(x)
    loss = loss_fn(out, y)
    grad_x = model.backward(loss_fn.backward())

    x_t = torch.from_numpy(x).requires_grad_(True)
    out_t = net(x_t)
    loss_t = torch.nn.MSELoss()(out_t, torch.from_numpy(y))
    loss_t.backward()

    tol = TOLERANCE[dtype]
    gaps = [
        max_relative_difference(out, out_t.detach().numpy()),
        abs(loss - loss_t.item()) / abs(loss_t.item()),
        max_relative_difference(grad_x, x_t.grad.numpy()),
    ]
    for ours, theirs in zip(model.parameters(), net.parameters(), strict=True):
        gaps.append(max_relative_difference(ours.grad, theirs.grad.numpy()))
    name = f"(b) forward, loss, gradients vs torch, {np.dtype(dtype).name}, {backend}"
    record_error(name, max(gaps))
    assert max(gaps) < tol, gaps


SGD_SETTINGS = {
    "plain": dict(lr=1e-2),
    "momentum": dict(lr=1e-3, momentum=0.9),
    "momentum 1": dict(lr=1e-4, momentum=1.0),
    "nesterov": dict(lr=1e-3, momentum=0.9, nesterov=True),
    "dampening": dict(lr=1e-3, momentum=0.9, dampening=0.5),
    "weight decay": dict(lr=1e-3, momentum=0.9, weight_decay=1e-2),
    "maximize": dict(lr=1e-6, momentum=0.5, maximize=True),
}


def run_both(dtype, settings, steps, batch_size, backend):
    x, y = sg.lesson_data(dtype=dtype)
    model = sg.MLP([1, 32, 32, 1], dtype=dtype, seed=0, backend=backend)
    net = torch_twin(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # momentum 1 warns in scratch_gd, by design
        opt = sg.SGD(model.parameters(), **settings)
    opt_t = torch.optim.SGD(net.parameters(), **settings)
    loss_fn, loss_fn_t = sg.MSELoss(), torch.nn.MSELoss()
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    sampler = sg.BatchSampler(len(x), batch_size, seed=0)
    losses, losses_t = [], []
    for batch in sampler.batches(steps):
        opt.zero_grad()
        losses.append(loss_fn(model(x[batch]), y[batch]))
        model.backward(loss_fn.backward())
        opt.step()

        index = torch.from_numpy(batch)
        opt_t.zero_grad()
        loss_t = loss_fn_t(net(x_t[index]), y_t[index])
        loss_t.backward()
        opt_t.step()
        losses_t.append(loss_t.item())
    return model, net, np.array(losses), np.array(losses_t)


@pytest.mark.parametrize("name", list(SGD_SETTINGS))
def test_sgd_trajectory_matches_torch_in_float64(name, backend, record_error):
    model, net, losses, losses_t = run_both(np.float64, SGD_SETTINGS[name], 300, 64, backend)
    gaps = [max_relative_difference(losses, losses_t)]
    for ours, theirs in zip(model.parameters(), net.parameters(), strict=True):
        gaps.append(max_relative_difference(ours.data, theirs.detach().numpy()))
    record_error(f"(b) 300 SGD steps vs torch, float64, {backend}", max(gaps))
    assert max(gaps) < 1e-9, gaps


@pytest.mark.parametrize("name", list(SGD_SETTINGS))
def test_sgd_trajectory_matches_torch_in_float32(name, backend, record_error):
    model, net, losses, losses_t = run_both(np.float32, SGD_SETTINGS[name], 200, 64, backend)
    gaps = [max_relative_difference(losses, losses_t)]
    for ours, theirs in zip(model.parameters(), net.parameters(), strict=True):
        gaps.append(max_relative_difference(ours.data, theirs.detach().numpy()))
    record_error(f"(b) 200 SGD steps vs torch, float32, {backend}", max(gaps))
    assert max(gaps) < 1e-4, gaps


BAD_SGD_ARGUMENTS = [
    dict(lr=-0.1),
    dict(lr=0.1, momentum=-0.5),
    dict(lr=0.1, weight_decay=-1.0),
    dict(lr=0.1, nesterov=True),
    dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
]


@pytest.mark.parametrize("kwargs", BAD_SGD_ARGUMENTS, ids=str)
def test_sgd_rejects_what_torch_rejects_with_the_same_message(kwargs):
    with pytest.raises(ValueError) as theirs:
        torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], **kwargs)
    with pytest.raises(ValueError) as ours:
        sg.SGD([sg.Parameter(np.zeros(2))], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_sgd_warns_on_momentum_at_least_one_which_torch_accepts():
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1, momentum=1.0)
    with pytest.warns(UserWarning, match="never decays"):
        sg.SGD([sg.Parameter(np.zeros(2))], lr=0.1, momentum=1.0)
