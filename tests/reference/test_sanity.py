"""Overfit one tiny batch: the sanity check to run before any long training.

The lesson's network has 1,153 parameters; four samples are nothing to it. Full-batch steps
on them must drive the loss to about 0 (floating-point zero, not just "small"). When they
cannot, the bug is in the model or the training step, not in the data or the settings.
It is a blunt check: it catches bugs that stop learning, but a gradient that is merely
wrong in size (a halved bias gradient) still points downhill and still fits. Gradcheck
catches those. docs/debugging.md discusses the numbers; print them for ten seeds with

    python tests/reference/test_sanity.py
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.reference import linear, relu
from scratch_gd.reference.backend import NUMPY
from scratch_gd.reference.gradcheck import gradcheck

SAMPLES = 4
STEPS = 3000
LR = 3e-3
MOMENTUM = 0.99  # plain SGD crawls along flat directions; momentum 0.99 gets to 0 in time
FITTED = 1e-8  # the loss starts near 10; "driven to ~0" means below this


def tiny_batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SAMPLES points of the lesson's data, chosen by ``seed``."""
    x, y = sg.lesson_data(dtype=np.float64)
    rows = np.random.default_rng(seed).choice(len(x), size=SAMPLES, replace=False)
    return x[rows], y[rows]


def overfit(seed: int, steps: int = STEPS) -> np.ndarray:
    """Full-batch SGD with momentum on one tiny batch; the loss before every step.

    The NumPy backend: at 4 samples the Numba kernels' call overhead makes them ~4x slower.
    """
    x, y = tiny_batch(seed)
    model = sg.MLP([1, 32, 32, 1], dtype=np.float64, seed=seed, backend="numpy")
    optimizer = sg.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = sg.MSELoss()
    losses = np.full(steps, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a broken model may overflow
        for step in range(steps):
            optimizer.zero_grad()
            losses[step] = loss_fn(model(x), y)
            if not np.isfinite(losses[step]):
                break
            model.backward(loss_fn.backward())
            optimizer.step()
    return losses


# Bugs a learner writes. Each replaces one backward function for the length of a test.
_relu_backward, _linear_backward = relu.relu_backward, linear.linear_backward


def no_relu_mask(grad_out, cache):
    return grad_out  # forgot "* (out > 0)": every unit passes its gradient back


def flipped_input_gradient(grad_out, cache, weight, backend=NUMPY):
    grad_x, grad_weight, grad_bias = _linear_backward(grad_out, cache, weight, backend)
    return -grad_x, grad_weight, grad_bias  # a sign slip on the way back


def halved_bias_gradient(grad_out, cache, weight, backend=NUMPY):
    grad_x, grad_weight, grad_bias = _linear_backward(grad_out, cache, weight, backend)
    return grad_x, grad_weight, grad_bias / 2  # a mean where a sum belongs, say


BUGS = {
    "no ReLU mask": (relu, "relu_backward", no_relu_mask),
    "input gradient with the wrong sign": (linear, "linear_backward", flipped_input_gradient),
    "halved bias gradient": (linear, "linear_backward", halved_bias_gradient),
}


def final_loss(losses: np.ndarray) -> float:
    """The last loss measured; inf when training blew up (a NaN loss never fitted anything)."""
    finite = losses[~np.isnan(losses)]
    return float(finite[-1]) if finite.size and np.isfinite(finite[-1]) else np.inf


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_correct_model_drives_a_tiny_batch_to_zero_loss(seed):
    losses = overfit(seed)
    assert losses[0] > 1.0  # it had something to learn
    assert final_loss(losses) < FITTED, f"seed {seed}: stuck at {final_loss(losses):.3g}"


@pytest.mark.parametrize("bug", ["no ReLU mask", "input gradient with the wrong sign"])
def test_a_broken_backward_cannot_fit_the_tiny_batch(bug, monkeypatch):
    module, name, broken = BUGS[bug]
    monkeypatch.setattr(module, name, broken)
    for seed in (0, 1):
        assert final_loss(overfit(seed)) > 1e-2, f"{bug}, seed {seed}"


def test_a_gradient_that_is_only_too_small_still_fits_so_gradcheck_is_needed_too(monkeypatch):
    module, name, broken = BUGS["halved bias gradient"]
    monkeypatch.setattr(module, name, broken)
    assert final_loss(overfit(0)) < FITTED  # the sanity check is fooled...
    model = sg.MLP([1, 32, 32, 1], dtype=np.float64, seed=0, backend="numpy")
    x, y = tiny_batch(0)
    assert gradcheck(model, x, y).worst > 0.1  # ...gradcheck is not


def main() -> None:
    seeds = range(10)
    print(f"final loss after {STEPS} full-batch steps on {SAMPLES} samples, lr {LR:g}, "
          f"momentum {MOMENTUM:g} (inf: it blew up to inf or NaN)")  # fmt: skip
    print(f"{'backward':<36} " + " ".join(f"{f'seed {s}':>8}" for s in seeds) + "  fitted")
    cases = {"correct": None, **BUGS}
    for label, bug in cases.items():
        if bug is not None:
            module, name, broken = bug
            setattr(module, name, broken)
        try:
            finals = [final_loss(overfit(seed)) for seed in seeds]
        finally:
            relu.relu_backward, linear.linear_backward = _relu_backward, _linear_backward
        fitted = sum(loss < FITTED for loss in finals)
        cells = " ".join(f"{loss:>8.0e}" for loss in finals)
        print(f"{label:<36} {cells}  {fitted}/{len(finals)}")


if __name__ == "__main__":
    main()
