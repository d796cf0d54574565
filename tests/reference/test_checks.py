"""The checks at the reference path's public doors (reference/checks.py), as a learner meets
them: each slip gets one sentence saying what was expected, never a NumPy traceback.

Issue 11 items 5 (API slips), 7 (``sg.train`` types) and 11 (optimizer inputs torch handles).
"""

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.reference import checks


@pytest.fixture
def batch():
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(-1, 1)
    return sg.MLP([1, 4, 1], seed=0), sg.MSELoss(), x, 0.3 * x**2


# --- backward: the classic slip of passing the loss itself ------------------------------------


def test_backward_of_the_float_loss_says_to_call_loss_fn_backward(batch):
    model, loss_fn, x, y = batch
    with pytest.raises(TypeError) as error:
        model.backward(loss_fn(model(x), y))  # the float loss, not dL/d(output)
    message = str(error.value)
    assert message.startswith("backward takes dL/d(output), an array of shape (6, 1)")
    assert "got a float" in message and "call loss_fn.backward()" in message


@pytest.mark.parametrize(
    ("grad", "got"),
    [
        (np.ones((6, 2), np.float32), "an array of shape (6, 2)"),
        (np.ones(6, np.float32), "an array of shape (6,)"),
        ([[1.0]] * 6, "a list"),
        (None, "a NoneType"),
    ],
)
def test_backward_of_anything_but_an_array_like_the_output_is_refused(batch, grad, got):
    model, _, x, _ = batch
    model(x)
    with pytest.raises(TypeError, match="backward takes dL/d\\(output\\)") as error:
        model.backward(grad)
    assert got in str(error.value)


def test_the_right_backward_call_passes_the_check(batch):
    model, loss_fn, x, y = batch
    loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    assert all(np.any(p.grad) for p in model.parameters())


# --- sg.train: whole numbers, real arrays, data that fits the model's dtype ---------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(batch_size=25.0), TypeError, "batch_size must be a whole number, got 25.0"),
        (dict(steps=5.0), TypeError, "steps must be a whole number, got 5.0"),
        (dict(steps=True), TypeError, "steps must be a whole number"),
        (dict(steps=0), ValueError, "steps must be at least 1"),
        (dict(seed=-1), ValueError, "seed must be at least 0"),
        (dict(seed="0"), TypeError, "seed must be a whole number"),
    ],
)
def test_train_refuses_numbers_that_are_not_whole(batch, kwargs, error, words):
    model, _, x, y = batch
    settings = dict(batch_size=2, steps=3, progress=False) | kwargs
    with pytest.raises(error, match=words):
        sg.train(model, sg.SGD(model.parameters(), lr=0.1), x, y, **settings)


def test_train_refuses_string_arrays(batch):
    model, _, _, y = batch
    with pytest.raises(ValueError, match="x must hold real numbers, got an array of dtype <U"):
        sg.train(model, sg.SGD(model.parameters(), lr=0.1), np.array([["1"]] * 6), y,
                 batch_size=2, steps=1, progress=False)  # fmt: skip


def test_float64_data_beyond_float32_is_a_data_error_not_divergence(batch):
    model, _, x, y = batch
    far = x.astype(np.float64) * 1e39  # finite in float64, infinite in the float32 model
    with pytest.raises(ValueError, match="beyond float32's range"):
        sg.train(model, sg.SGD(model.parameters(), lr=0.1), far, y,
                 batch_size=2, steps=1, progress=False)  # fmt: skip


def test_a_history_that_cannot_fit_is_refused_with_the_size_it_needs(batch):
    model, _, x, y = batch
    with pytest.raises(MemoryError, match="GiB"):
        sg.train(model, sg.SGD(model.parameters(), lr=0.1), x, y,
                 batch_size=2, steps=10**20, progress=False)  # fmt: skip


def test_fits_in_memory_names_the_size_needed(monkeypatch):
    monkeypatch.setattr(checks, "memory_bytes", lambda: 2**30)
    checks.fits_in_memory("a small thing", 2**20, 8)
    with pytest.raises(MemoryError, match=r"a big thing would need 8.0 GiB but .* 1.0 GiB"):
        checks.fits_in_memory("a big thing", 2**30, 8)


def test_whole_number_accepts_numpy_integers_and_refuses_bools():
    assert checks.whole_number("n", np.int64(3), 1) == 3
    with pytest.raises(TypeError):
        checks.whole_number("n", False, 0)


# --- SGD: what torch refuses, refused at construction with torch's words -----------------------


def test_a_parameter_listed_twice_is_refused_as_torch_does(batch):
    model, *_ = batch
    weight = model.parameters()[0]
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        sg.SGD([weight, weight], lr=0.1)


def test_named_parameters_are_refused_at_construction_not_in_step(batch):
    model, *_ = batch
    named = [(f"p{k}", p) for k, p in enumerate(model.parameters())]
    with pytest.raises(TypeError, match="optimizer can only optimize .* the params is tuple"):
        sg.SGD(named, lr=0.1)


def test_parameter_groups_are_refused_at_construction(batch):
    model, *_ = batch
    with pytest.raises(TypeError, match="parameter groups \\(dicts\\) are not supported"):
        sg.SGD([{"params": model.parameters(), "lr": 0.1}], lr=0.1)


@pytest.mark.parametrize("params", ["model", "parameter", "array"])
def test_something_that_is_not_a_list_of_parameters_is_refused(batch, params):
    model, *_ = batch
    given = {"model": model, "parameter": model.parameters()[0], "array": np.ones(3)}[params]
    with pytest.raises(TypeError, match="params argument given to the optimizer should be an it"):
        sg.SGD(given, lr=0.1)


@pytest.mark.parametrize("lr", [[0.1, 0.2], np.array([0.1, 0.2]), "0.1", None])
def test_an_lr_that_is_not_one_number_is_refused_on_purpose(batch, lr):
    model, *_ = batch
    with pytest.raises(TypeError, match="lr must be a number"):
        sg.SGD(model.parameters(), lr=lr)


def test_an_empty_parameter_list_is_refused_as_torch_does():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        sg.SGD([], lr=0.1)


def test_a_generator_of_parameters_is_accepted_like_torch(batch):
    model, *_ = batch
    optimizer = sg.SGD((p for p in model.parameters()), lr=0.1)
    assert len(optimizer.params) == len(model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n": 0}, "n must be a whole number >= 1"),
        ({"n": 2.5}, "n must be a whole number >= 1"),
        ({"seed": 2**32}, "seed must be a whole number in [0, 2**32)"),
        ({"seed": -1}, "seed must be a whole number in [0, 2**32)"),
        ({"dtype": "int8"}, "dtype must be float32 or float64"),
    ],
)
def test_lesson_data_refuses_what_the_lesson_cannot_make(kwargs, words):
    with pytest.raises(ValueError) as error:
        sg.lesson_data(**kwargs)
    assert words in str(error.value)
