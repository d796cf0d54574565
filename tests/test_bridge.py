"""The bridge to torch (scratch_gd/bridge.py): the same network on both sides, both ways."""

import sys

import numpy as np
import pytest
import torch

import scratch_gd as sg


def lesson_net(dtype=torch.float64, seed=0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(1, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1)
    ).to(dtype)


def same_weights(model: sg.MLP, net: torch.nn.Sequential) -> None:
    theirs = net.state_dict()
    mine = model.state_dict()
    assert list(mine) == list(theirs)
    for key, value in mine.items():
        np.testing.assert_array_equal(value, theirs[key].numpy(), err_msg=key)


def test_from_torch_copies_sizes_dtype_and_every_weight():
    net = lesson_net()
    model = sg.MLP.from_torch(net)
    assert model.sizes == [1, 32, 32, 1]
    assert model.dtype == np.float64
    same_weights(model, net)


def test_float32_stays_float32_both_ways():
    model = sg.MLP.from_torch(lesson_net(torch.float32))
    assert model.dtype == np.float32
    assert model.to_torch()[0].weight.dtype == torch.float32


def test_round_trip_mlp_torch_mlp_is_exact():
    model = sg.MLP([2, 7, 5, 3], dtype="float64", seed=4)
    net = model.to_torch()
    assert [type(layer).__name__ for layer in net] == ["Linear", "ReLU"] * 2 + ["Linear"]
    same_weights(model, net)
    back = sg.MLP.from_torch(net)
    assert back.sizes == model.sizes
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[key], value)


def test_round_trip_torch_mlp_torch_is_exact():
    net = lesson_net(seed=3)
    again = sg.MLP.from_torch(net).to_torch()
    for key, value in net.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_the_copies_are_independent():
    net = lesson_net()
    model = sg.MLP.from_torch(net)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert not np.allclose(model.linears[0].weight.data, net[0].weight.detach().numpy())
    out = model.to_torch()
    model.linears[0].bias.data += 1.0
    assert not np.allclose(model.linears[0].bias.data, out[0].bias.detach().numpy())


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_outputs_and_gradients_agree_with_torch_in_float64(backend):
    x, y = sg.lesson_data(dtype="float64")
    net = lesson_net(seed=1)
    model = sg.MLP.from_torch(net, backend=backend)
    loss_fn = sg.MSELoss()
    loss = loss_fn(model(x), y)
    model.backward(loss_fn.backward())

    x_t = torch.from_numpy(x)
    loss_t = torch.nn.functional.mse_loss(net(x_t), torch.from_numpy(y))
    loss_t.backward()
    np.testing.assert_allclose(model(x), net(x_t).detach().numpy(), rtol=1e-6, atol=1e-6)
    assert loss == pytest.approx(loss_t.item(), rel=1e-6)
    for mine, theirs in zip(model.parameters(), net.parameters(), strict=True):
        np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_to_torch_outputs_agree_with_ours():
    model = sg.MLP([1, 32, 32, 1], dtype="float64", seed=2)
    x, _ = sg.lesson_data(dtype="float64")
    with torch.no_grad():
        theirs = model.to_torch()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), theirs, rtol=1e-6, atol=1e-6)


def test_load_state_dict_takes_a_torch_state_dict():
    net = lesson_net(seed=5)
    model = sg.MLP([1, 32, 32, 1], dtype="float64", seed=0)
    model.load_state_dict(net.state_dict())
    same_weights(model, net)


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = sg.MLP([1, 32, 32, 1], dtype="float64")
    state = lesson_net().state_dict()
    del state["2.weight"]
    state["9.weight"] = torch.zeros(1, 32, dtype=torch.float64)
    with pytest.raises(
        KeyError, match=r"missing key\(s\) '2.weight'.*unexpected key\(s\) '9.weight'"
    ):
        model.load_state_dict(state)


def test_load_state_dict_names_a_wrong_shape():
    model = sg.MLP([1, 16, 1], dtype="float64")
    with pytest.raises(ValueError, match=r"size mismatch for 0.weight.*\(32, 1\).*\(16, 1\)"):
        model.load_state_dict(sg.MLP([1, 32, 1]).to_torch().state_dict())


def test_from_torch_refuses_a_non_sequential():
    with pytest.raises(TypeError, match="takes an nn.Sequential"):
        sg.MLP.from_torch(torch.nn.Linear(1, 1))


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (lambda nn: [nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1)], "layer 1 is Tanh"),
        (lambda nn: [nn.Linear(1, 4), nn.ReLU()], "odd number of layers"),
        (lambda nn: [nn.Linear(1, 4), nn.ReLU(), nn.Linear(5, 1)], "takes 5 inputs"),
        (lambda nn: [nn.Linear(1, 4, bias=False)], "without a bias"),
        (lambda nn: [nn.ReLU()], "layer 0 is ReLU"),
    ],
)
def test_from_torch_refuses_what_is_not_an_mlp(layers, message):
    with pytest.raises(ValueError, match=message):
        sg.MLP.from_torch(torch.nn.Sequential(*layers(torch.nn)))


def test_from_torch_refuses_half_precision():
    with pytest.raises(ValueError, match="float16"):
        sg.MLP.from_torch(lesson_net(torch.float16))


def test_a_missing_torch_is_one_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    model = sg.MLP([1, 4, 1])
    with pytest.raises(
        ImportError, match=r"^MLP.to_torch needs PyTorch: pip install torch==2.13.0$"
    ):
        model.to_torch()
    with pytest.raises(ImportError, match=r"^MLP.from_torch needs PyTorch"):
        sg.MLP.from_torch(object())
