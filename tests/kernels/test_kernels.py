"""Every kernel against NumPy, over random shapes, dtypes and memory layouts.

Integer-valued inputs are summed exactly in floating point whatever the order, so there
the kernels must agree with NumPy bit for bit. For general inputs a matmul may add in
another order than BLAS; each result must then lie within the classic worst-case bound
for a length-K dot product, |error| <= K * eps * (|a| @ |b|), of the exact product.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratch_gd import kernels
from scratch_gd.kernels import small

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DTYPES = (np.float32, np.float64)
LAYOUTS = ("C", "F", "strided")
sizes = st.integers(1, 300)


def make(rng, shape, dtype, layout, integers=False):
    """An array of ``shape`` laid out in memory as ``layout`` says."""
    if layout == "strided":
        # Every other row and column of a larger array: neither C nor F contiguous.
        big = make(
            rng,
            (2 * shape[0], 2 * shape[1]) if len(shape) == 2 else (2 * shape[0],),
            dtype,
            "C",
            integers,
        )
        return big[::2, ::2] if len(shape) == 2 else big[::2]
    values = rng.integers(-4, 5, shape) if integers else rng.standard_normal(shape)
    array = np.asarray(values, dtype=dtype)
    return np.asfortranarray(array) if layout == "F" else np.ascontiguousarray(array)


def check_product(result, a, b, exact, record=None, name=""):
    """``result`` against ``a @ b`` (both as given, already in product orientation)."""
    assert result.dtype == a.dtype and result.shape == (a.shape[0], b.shape[1])
    if exact:
        np.testing.assert_array_equal(result, a @ b)
        return
    exact_product = a.astype(np.float64) @ b.astype(np.float64)
    eps = np.finfo(a.dtype).eps
    bound = max(a.shape[1], 1) * eps * (np.abs(a).astype(np.float64) @ np.abs(b))
    error = np.abs(result - exact_product)
    assert np.all(error <= bound + np.finfo(a.dtype).tiny), "error above K * eps * |a||b|"
    if record is not None:
        record(f"kernels.{name} {a.dtype} error / bound", np.max(error / (bound + 1e-300)))


@pytest.mark.parametrize("name", ["matmul", "matmul_tn", "matmul_nt", "matmul_blocked"])
@SETTINGS
@given(
    m=sizes,
    k=sizes,
    n=sizes,
    dtype=st.sampled_from(DTYPES),
    layouts=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
    integers=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_products_match_numpy(name, m, k, n, dtype, layouts, integers, seed, record_error):
    rng = np.random.default_rng(seed)
    # Shapes as each function takes them; a_math, b_math are the factors of the product.
    shape_a = {"matmul_tn": (k, m)}.get(name, (m, k))
    shape_b = {"matmul_nt": (n, k)}.get(name, (k, n))
    a = make(rng, shape_a, dtype, layouts[0], integers)
    b = make(rng, shape_b, dtype, layouts[1], integers)
    a_math = a.T if name == "matmul_tn" else a
    b_math = b.T if name == "matmul_nt" else b
    check_product(getattr(kernels, name)(a, b), a_math, b_math, integers, record_error, name)


@pytest.mark.parametrize("name", ["matmul_naive", "matmul_ikj"])
@settings(max_examples=10, deadline=None)
@given(
    m=st.integers(1, 80),
    k=st.integers(1, 80),
    n=st.integers(1, 80),
    dtype=st.sampled_from(DTYPES),
    layout=st.sampled_from(LAYOUTS),
    integers=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_ladder_matches_numpy(name, m, k, n, dtype, layout, integers, seed):
    rng = np.random.default_rng(seed)
    a, b = make(rng, (m, k), dtype, layout, integers), make(rng, (k, n), dtype, "C", integers)
    check_product(getattr(kernels, name)(a, b), a, b, integers)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "m, k, n",
    [
        (1, 1, 1),
        (1, 300, 1),
        (300, 1, 300),
        (1, 7, 300),
        (300, 7, 1),
        (5, 0, 4),
        (0, 3, 4),
        (1000, 32, 32),
    ],
)
def test_edge_shapes(m, k, n, dtype):
    rng = np.random.default_rng(0)
    a, b = make(rng, (m, k), dtype, "C", True), make(rng, (k, n), dtype, "C", True)
    for result in (
        kernels.matmul(a, b),
        kernels.matmul_tn(a.T.copy(), b),
        kernels.matmul_nt(a, b.T.copy()),
        kernels.matmul_naive(a, b),
        kernels.matmul_ikj(a, b),
    ):
        np.testing.assert_array_equal(result, a @ b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "rows, inner, width",
    [(1000, 1, 32), (7, 1, 3), (1, 1, 1), (1000, 32, 32), (6, 5, 9), (3, 7, 1), (5, 0, 4)],
)
def test_combine_rows_adds_its_first_row(rows, inner, width, dtype):
    # out = a @ m + init, the forward pass with its bias; one inner column has its own loop.
    rng = np.random.default_rng(rows * 100 + inner * 10 + width)
    a = make(rng, (rows, inner), dtype, "C", True)
    m = make(rng, (inner, width), dtype, "C", True)
    init = make(rng, (width,), dtype, "C", True)
    out = np.full((rows, width), np.nan, dtype)
    small.combine_rows(a, m, init, out)
    np.testing.assert_array_equal(out, a @ m + init)


def test_threaded_product_matches():
    # Large enough to take the prange path, with edges that do not fill a tile.
    rng = np.random.default_rng(1)
    a, b = (
        make(rng, (259, 301), np.float32, "C", True),
        make(rng, (301, 250), np.float32, "C", True),
    )
    np.testing.assert_array_equal(kernels.matmul(a, b), a @ b)


def test_out_argument_any_layout_and_overlap():
    rng = np.random.default_rng(2)
    a, b = make(rng, (40, 40), np.float64, "C", True), make(rng, (40, 40), np.float64, "C", True)
    expected = a @ b
    out = np.zeros((40, 40))
    assert kernels.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, expected)
    out_f = np.zeros((40, 40), order="F")
    kernels.matmul(a, b, out=out_f)
    np.testing.assert_array_equal(out_f, expected)
    kernels.matmul(a, b, out=a)  # out overlaps an operand: computed aside, then copied
    np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda: kernels.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float64)),
        lambda: kernels.matmul(np.ones((2, 3)), np.ones((4, 2))),
        lambda: kernels.matmul_tn(np.ones((2, 3)), np.ones((4, 2))),
        lambda: kernels.matmul_nt(np.ones((2, 3)), np.ones((2, 4))),
        lambda: kernels.matmul(np.ones((2, 3), np.int64), np.ones((3, 2), np.int64)),
        lambda: kernels.matmul(np.ones(3), np.ones((3, 2))),
        lambda: kernels.matmul(np.ones((2, 3)), np.ones((3, 2)), out=np.ones((3, 3))),
        lambda: kernels.bias_add(np.ones((2, 3)), np.ones(2)),
        lambda: kernels.relu_backward(np.ones((2, 3)), np.ones((3, 2))),
        lambda: kernels.column_sum(np.ones((2, 3), np.float16)),
        lambda: kernels.sgd_update(np.ones(3), np.ones(2), None, 0.1, 0, 0, 0, False, False, True),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


arrays_2d = {
    "m": sizes,
    "n": sizes,
    "dtype": st.sampled_from(DTYPES),
    "layout": st.sampled_from(LAYOUTS),
    "seed": st.integers(0, 2**32 - 1),
}


@SETTINGS
@given(relu=st.booleans(), in_place=st.booleans(), **arrays_2d)
def test_bias_add(m, n, dtype, layout, seed, relu, in_place):
    rng = np.random.default_rng(seed)
    x, bias = make(rng, (m, n), dtype, layout), make(rng, (n,), dtype, "C")
    expected = x + bias
    if relu:
        expected = np.maximum(expected, 0)
    result = kernels.bias_add(x, bias, relu=relu, out=x if in_place else None)
    assert result.dtype == dtype and (result is x) == in_place
    np.testing.assert_array_equal(result, expected)


@SETTINGS
@given(**arrays_2d)
def test_relu_backward(m, n, dtype, layout, seed):
    rng = np.random.default_rng(seed)
    grad = make(rng, (m, n), dtype, layout)
    # Integer-valued ReLU outputs, many exactly 0: the gradient there must be 0.
    out_relu = np.maximum(make(rng, (m, n), dtype, layout, integers=True), 0)
    result = kernels.relu_backward(grad, out_relu)
    np.testing.assert_array_equal(result, grad * (out_relu > 0))
    np.testing.assert_array_equal(kernels.relu_backward(grad[0], out_relu[0]), result[0])


@SETTINGS
@given(integers=st.booleans(), **arrays_2d)
def test_column_sum(m, n, dtype, layout, seed, integers):
    rng = np.random.default_rng(seed)
    x = make(rng, (m, n), dtype, layout, integers)
    result = kernels.column_sum(x)
    assert result.dtype == dtype
    # Row after row, the order NumPy uses on C arrays; other layouts may sum pairwise.
    tolerance = 0 if integers else m * np.finfo(dtype).eps
    bound = tolerance * np.abs(x).sum(axis=0)
    assert np.all(np.abs(result - x.sum(axis=0)) <= bound)


def sgd_reference(
    param, grad, velocity, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step
):
    """The torch.optim.SGD formula in NumPy, on copies; returns (param, velocity)."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum != 0:
        velocity = g.copy() if first_step else momentum * velocity + (1 - dampening) * g
        g = g + momentum * velocity if nesterov else velocity
    return param - lr * g, velocity


sgd_options = {
    "lr": st.sampled_from([0.1, 1e-3, 0.5]),
    "momentum": st.sampled_from([0.0, 0.9, 1.0]),
    "dampening": st.sampled_from([0.0, 0.3]),
    "weight_decay": st.sampled_from([0.0, 1e-2]),
    "nesterov": st.booleans(),
    "maximize": st.booleans(),
}


@SETTINGS
@given(
    size=sizes,
    dtype=st.sampled_from(DTYPES),
    layout=st.sampled_from(["C", "F", "strided"]),
    seed=st.integers(0, 2**32 - 1),
    **sgd_options,
)
def test_sgd_update_matches_numpy_formula_exactly(size, dtype, layout, seed, **options):
    if options["nesterov"] and (options["momentum"] == 0 or options["dampening"] != 0):
        options["nesterov"] = False  # torch rejects that combination
    rng = np.random.default_rng(seed)
    shape = (size, 3)
    param, velocity = make(rng, shape, dtype, layout), make(rng, shape, dtype, layout)
    expected_param, expected_velocity = param.copy(), velocity.copy()
    for step in range(3):
        grad = make(rng, shape, dtype, layout)
        expected_param, expected_velocity = sgd_reference(
            expected_param, grad, expected_velocity, first_step=step == 0, **options
        )
        kernels.sgd_update(param, grad, velocity, first_step=step == 0, **options)
        np.testing.assert_array_equal(param, expected_param)
        if options["momentum"] != 0:
            np.testing.assert_array_equal(velocity, expected_velocity)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nesterov, dampening", [(False, 0.0), (True, 0.0), (False, 0.5)])
def test_sgd_update_matches_torch(dtype, nesterov, dampening):
    rng = np.random.default_rng(3)
    options = {
        "lr": 0.05,
        "momentum": 0.9,
        "dampening": dampening,
        "weight_decay": 1e-2,
        "nesterov": nesterov,
        "maximize": False,
    }
    param = rng.standard_normal(50).astype(dtype)
    velocity = np.zeros_like(param)
    tensor = torch.tensor(param.copy(), requires_grad=True)
    optimizer = torch.optim.SGD([tensor], foreach=False, **options)
    for step in range(5):
        grad = rng.standard_normal(50).astype(dtype)
        tensor.grad = torch.tensor(grad)
        optimizer.step()
        kernels.sgd_update(param, grad, velocity, first_step=step == 0, **options)
    tolerance = 10 * np.finfo(dtype).eps
    np.testing.assert_allclose(param, tensor.detach().numpy(), rtol=tolerance, atol=tolerance)


# Shapes on both sides of every threshold the entry points dispatch on, so each kernel
# family (row combination, dot products, outer products, packed tiles) is checked.


def around(value):
    return [value - 1, value, value + 1]


@pytest.mark.parametrize("name", ["matmul", "matmul_tn", "matmul_nt"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "m, k, n",
    [(m, k, 40) for m in around(kernels.THIN_SIDE) for k in around(kernels.SHORT_INNER)]
    + [(70, k, n) for k in around(kernels.SHORT_INNER) for n in around(kernels.NARROW)]
    + [(n, 70, 70) for n in around(kernels.NARROW)]
    + [(64, 300, 64), (65, 300, 64), (200, 300, 280)],  # SMALL_OUTPUT, ROWS_OPERAND_BYTES
)
def test_products_across_the_dispatch_boundaries(name, dtype, m, k, n):
    rng = np.random.default_rng(m * 10_000 + k * 100 + n)
    for layouts in (("C", "C"), ("F", "strided")):
        a_math = make(rng, (m, k), dtype, layouts[0], integers=True)
        b_math = make(rng, (k, n), dtype, layouts[1], integers=True)
        a = {"matmul_tn": a_math.T}.get(name, a_math)
        b = {"matmul_nt": b_math.T}.get(name, b_math)
        expected = a_math @ b_math
        np.testing.assert_array_equal(getattr(kernels, name)(a, b), expected)
        out = np.full((m, n), np.nan, dtype, order="F" if layouts[0] == "F" else "C")
        assert getattr(kernels, name)(a, b, out=out) is out
        np.testing.assert_array_equal(out, expected)


def test_the_dispatch_sends_the_lesson_shapes_to_the_row_kernels():
    # The reference Linear layer's 9 products per step at batch 1000, 128 and 1.
    for batch in (1000, 128, 1):
        for fan_in, fan_out in ((1, 32), (32, 32), (32, 1)):
            itemsize = 4
            assert kernels._combine_wins(batch, fan_out, fan_in, itemsize)  # G @ W
            assert kernels._gram_wins(fan_out, batch, fan_in)  # G.T @ x
            assert fan_in <= kernels.SHORT_INNER  # x @ W.T: row or dot kernels
    assert not kernels._combine_wins(1024, 1024, 1024, 4)
    assert not kernels._gram_wins(1024, 1024, 1024)
