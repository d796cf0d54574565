"""One Linear layer, two backends: the same maths whether NumPy or our kernels multiply.

The layer's code is written once (``reference/linear.py``); a backend only says how its
three products are computed. So the two must agree to rounding, forward and backward,
on every shape the MLP makes (batch 1, the lesson's batches, 1-wide first and last layers).
"""

from __future__ import annotations

import numpy as np
import pytest

from scratch_gd.reference.backend import BACKENDS, NUMBA, NUMPY, Backend, get_backend
from scratch_gd.reference.linear import linear_backward, linear_forward

TOLERANCE = {np.float32: 2e-6, np.float64: 1e-13}
SHAPES = [(1, 1, 32), (1, 32, 32), (128, 32, 32), (1000, 1, 32), (1000, 32, 1), (7, 3, 5)]


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("batch", "fan_in", "fan_out"), SHAPES)
def test_numba_and_numpy_backends_agree_forward_and_backward(
    dtype, batch, fan_in, fan_out, record_error
):
    rng = np.random.default_rng(batch * 1000 + fan_in * 10 + fan_out)
    x = rng.standard_normal((batch, fan_in)).astype(dtype)
    weight = rng.standard_normal((fan_out, fan_in)).astype(dtype)
    bias = rng.standard_normal(fan_out).astype(dtype)
    grad_out = rng.standard_normal((batch, fan_out)).astype(dtype)
    results = {}
    for backend in (NUMPY, NUMBA):
        out, cache = linear_forward(x, weight, bias, backend)
        results[backend.name] = (out, *linear_backward(grad_out, cache, weight, backend))
    worst = 0.0
    for ours, theirs in zip(results["numba"], results["numpy"], strict=True):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == dtype
        worst = max(worst, relative(ours, theirs))
    record_error(f"Linear numba vs numpy, {np.dtype(dtype).name}", worst)
    assert worst < TOLERANCE[dtype]


def test_a_backend_is_a_value_with_three_products():
    assert set(BACKENDS) == {"numba", "numpy"}
    assert get_backend("numba") is NUMBA and get_backend(NUMPY) is NUMPY
    assert str(NUMBA) == "numba"
    with pytest.raises(ValueError, match="unknown backend 'cuda'; choose one of numba, numpy"):
        get_backend("cuda")


def test_a_custom_backend_changes_how_not_what(monkeypatch):
    """Any three products will do: the layer calls exactly the ones it is handed."""
    calls = []

    def counted(name, product):
        def run(a, b):
            calls.append(name)
            return product(a, b)

        return run

    spy = Backend(
        "spy",
        counted("matmul", NUMPY.matmul),
        counted("matmul_nt", NUMPY.matmul_nt),
        counted("matmul_tn", NUMPY.matmul_tn),
    )
    x, weight, bias = np.ones((4, 3)), np.ones((2, 3)), np.zeros(2)
    out, cache = linear_forward(x, weight, bias, spy)
    linear_backward(np.ones_like(out), cache, weight, spy)
    assert calls == ["matmul_nt", "matmul", "matmul_tn"]
