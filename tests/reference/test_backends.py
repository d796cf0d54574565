"""The Numba path of a Linear layer equals the NumPy reference, small (fused) and big (threaded)."""

import numpy as np
import pytest

from scratch_gd.reference.linear import (
    linear_backward,
    linear_backward_numba,
    linear_forward,
    linear_forward_numba,
)

# 4096 x 64 x 64 reaches linear.PARALLEL_MIN_WORK, where the multi-threaded kernels take over.
SHAPES = [(1, 1, 1), (4, 32, 32), (128, 32, 32), (1000, 32, 1), (7, 5, 3), (4096, 64, 64)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_numba_linear_matches_numpy(shape, dtype, record_error):
    n, fan_in, fan_out = shape
    rng = np.random.default_rng(n + fan_in)
    x = rng.normal(size=(n, fan_in)).astype(dtype)
    weight = rng.normal(size=(fan_out, fan_in)).astype(dtype)
    bias = rng.normal(size=fan_out).astype(dtype)
    grad_out = rng.normal(size=(n, fan_out)).astype(dtype)

    ours = [linear_forward_numba(x, weight, bias)[0]]
    ours += linear_backward_numba(grad_out, x, weight)
    reference = [linear_forward(x, weight, bias)[0]]
    reference += linear_backward(grad_out, x, weight)
    worst = 0.0
    for mine, theirs in zip(ours, reference, strict=True):
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        # Sums of fan_in (or n) products: the error bound grows with their length.
        scale = np.abs(theirs).max() + 1.0
        worst = max(worst, float(np.abs(mine - theirs).max() / scale))
    record_error(f"Linear numba vs numpy, {np.dtype(dtype).name}", worst)
    assert worst < (1e-5 if dtype == np.float32 else 1e-13)


def test_numba_linear_takes_any_layout_and_converts_to_the_weight_dtype():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 12))[:, ::2]  # float64 and not contiguous
    weight = rng.normal(size=(3, 6)).astype(np.float32)
    bias = np.zeros(3, np.float32)
    out, cache = linear_forward_numba(x, weight, bias)
    assert out.dtype == np.float32 and cache.flags.c_contiguous
    expected = x.astype(np.float32) @ weight.T
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_the_threaded_path_is_taken_for_big_layers_only():
    from scratch_gd.reference import linear

    big = linear.PARALLEL_MIN_WORK
    assert not linear._threads_pay(1000, 32, 32)  # the lesson's full batch stays serial
    assert linear._threads_pay(big, 1, 1) == (linear.numba.get_num_threads() > 1)
