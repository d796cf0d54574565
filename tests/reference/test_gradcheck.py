"""Backprop against central finite differences, in float64, on several architectures."""

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.reference import relu
from scratch_gd.reference.gradcheck import gradcheck

ARCHITECTURES = [[1, 32, 32, 1], [3, 5, 2], [4, 8, 8, 8, 3], [2, 1, 2], [5, 16, 1]]


@pytest.mark.parametrize("sizes", ARCHITECTURES, ids=str)
def test_backprop_matches_finite_differences(sizes, backend, record_error):
    rng = np.random.default_rng(sum(sizes))
    model = sg.MLP(sizes, dtype=np.float64, seed=len(sizes), backend=backend)
    x = rng.normal(size=(12, sizes[0]))
    y = rng.normal(size=(12, sizes[-1]))
    report = gradcheck(model, x, y)
    assert {row.name for row in report.rows} >= {"input x", "weight1", "bias1"}
    assert len(report.rows) == 1 + 2 * (len(sizes) - 1)
    assert report.samples_used > 0
    record_error(f"(a) backprop vs finite differences, float64, {backend}", report.worst)
    assert report.worst < 1e-6, [(row.name, row.relative_error) for row in report.rows]


def test_gradcheck_catches_a_wrong_relu_gradient(monkeypatch):
    """The check must be able to fail: a ReLU that lets every gradient through is caught."""
    monkeypatch.setattr(relu, "relu_backward", lambda grad_out, cache: grad_out)
    model = sg.MLP([2, 8, 1], dtype=np.float64, seed=1)
    rng = np.random.default_rng(0)
    report = gradcheck(model, rng.normal(size=(10, 2)), rng.normal(size=(10, 1)))
    assert report.worst > 1e-2


def test_gradcheck_skips_and_counts_samples_at_a_kink():
    model = sg.MLP([1, 4, 1], dtype=np.float64, seed=0)
    first = model.linears[0]
    # Put one sample exactly on hidden unit 0's kink: w * x + b = 0.
    kink_x = -first.bias.data[0] / first.weight.data[0, 0]
    x = np.array([[kink_x], [kink_x + 1.0], [kink_x - 1.0]])
    report = gradcheck(model, x, np.zeros((3, 1)))
    assert report.samples_skipped >= 1
    assert report.samples_used + report.samples_skipped == 3
