"""Hand-written Numba kernels for everything the MLP computes, checked against NumPy.

The matmul ladder, slowest to fastest (see ``benchmarks/bench_kernels.py``):

* ``matmul_naive``: the i-j-k triple loop from the definition (``ladder.py``).
* ``matmul_ikj``: the same loops reordered to stream rows (``ladder.py``).
* ``matmul_blocked``: register tiles, K-blocking and threads (``tiled.py``), after
  packing (``pack.py``); what ``matmul``, ``matmul_tn`` and ``matmul_nt`` run for big
  products.

Small and skinny products, like all of the lesson's 1-32-32-1 MLP, go instead to the
serial row-combination kernels of ``small.py``; each entry point picks by shape (see
"matrix products" below).

Every function takes float32 or float64 arrays (both operands alike), of any shape and
memory layout, and returns the input dtype. Wrong shapes or dtypes raise ``ValueError``
(non-arrays ``TypeError``).
``out=`` may be any array of the right shape and dtype; when the kernel cannot write
into it directly (not C-contiguous, or overlapping an input) the result is computed
aside and copied in, so the answer is never wrong, only slower.

The first call of each kernel compiles it, and ``cache=True`` stores the machine code
under ``__pycache__`` (or ``NUMBA_CACHE_DIR``), so later processes skip that cost.
"""

from __future__ import annotations

import numba
import numpy as np

from .elementwise import (
    bias_add_kernel,
    column_sum_kernel,
    relu_backward_kernel,
    sgd_update_kernel,
)
from .ladder import ikj_kernel, naive_kernel
from .pack import rows, rows_of_transpose
from .small import affine_dot, combine_rows, gram
from .tiled import PARALLEL_MIN_WORK, TILE_ROWS, gemm_parallel, gemm_rows

__all__ = [
    "bias_add",
    "column_sum",
    "matmul",
    "matmul_blocked",
    "matmul_ikj",
    "matmul_naive",
    "matmul_nt",
    "matmul_tn",
    "relu_backward",
    "sgd_update",
]

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --- checks shared by every entry point ----------------------------------------------


def _float_arrays(names: str, *arrays: np.ndarray) -> np.dtype:
    """The common dtype of ``arrays``, which must be ndarrays, all float32 or all float64."""
    for array in arrays:
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{names}: expected NumPy arrays, got {type(array).__name__}")
    dtypes = {array.dtype for array in arrays}
    if len(dtypes) != 1 or next(iter(dtypes)) not in DTYPES:
        found = ", ".join(str(array.dtype) for array in arrays)
        raise ValueError(f"{names}: need all float32 or all float64, got {found}")
    return arrays[0].dtype


def _check_ndim(name: str, array: np.ndarray, ndim: int) -> None:
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")


def _writable_target(
    out: np.ndarray | None, shape: tuple[int, ...], dtype: np.dtype, *inputs: np.ndarray
) -> np.ndarray:
    """Where the kernel writes: ``out`` itself if it can, else a fresh C-contiguous array.

    An input that *is* ``out`` (same memory, same layout) is fine for the elementwise
    kernels, which read each element before writing it; any other overlap is not.
    """
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"out must be a {dtype} array of shape {shape}, got {got}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        return np.empty(shape, dtype)
    for array in inputs:
        same = array.__array_interface__ == out.__array_interface__
        if not same and np.may_share_memory(array, out):
            return np.empty(shape, dtype)
    return out


def _deliver(target: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None or target is out:
        return target
    out[...] = target
    return out


# --- matrix products -------------------------------------------------------------------
#
# Two families of kernels compute a product, and each entry point picks one by shape:
#
# * the row-combination kernels of ``small.py`` (``combine_rows``, ``affine_dot``,
#   ``gram``): no horizontal sums and no packing, so they win whenever the summed-over
#   size or the output is small, like every product of the lesson's 1-32-32-1 MLP;
# * the packed, register-tiled dot-product kernels of ``tiled.py``, threaded when big:
#   they win once every size is large enough for their tiles and K blocks.
#
# The checks and the choice are a few attribute reads: the reference Linear layer calls
# these functions 9 times per training step, where the arithmetic is often under 1 us.

# Where the row kernels win: measured on this project's 2-core AVX-512 machine, float32
# and float64 on 1 thread, timing both families at 16 shapes from 1000x32x32 to 256^3.
SHORT_INNER = 64  # a summed-over size this short: the tiles' horizontal sums cost too much
THIN_SIDE = 16  # an output side this thin: the 4 x 3 tiles run mostly empty
ROWS_OPERAND_BYTES = 256 * 1024  # a right operand this small stays in L2 while rows stream
SMALL_OUTPUT = 64 * 64  # an output this small stays in L1 while gram adds outer products
NARROW = 4  # output columns (or rows) below which one dot product per output is best


def _combine_wins(m: int, k: int, n: int, itemsize: int) -> bool:
    """Whether ``a @ b``, (M, K) @ (K, N), is faster by row combination than tiled."""
    return k <= SHORT_INNER or min(m, n) < THIN_SIDE or k * n * itemsize <= ROWS_OPERAND_BYTES


def _gram_wins(m: int, k: int, n: int) -> bool:
    """Whether ``a.T @ b``, (K, M) and (K, N), is faster as outer products than tiled."""
    return k <= SHORT_INNER or min(m, n) < THIN_SIDE or m * n <= SMALL_OUTPUT


def _check_product(name: str, a: object, b: object, inner_a: int, inner_b: int) -> None:
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        _float_arrays(name, a, b)  # the full check, for subclasses and the error message
    elif a.dtype != b.dtype or a.dtype not in DTYPES:
        _float_arrays(name, a, b)
    if a.ndim != 2 or b.ndim != 2:
        _check_ndim(f"{name}: a", a, 2)
        _check_ndim(f"{name}: b", b, 2)
    if a.shape[inner_a] != b.shape[inner_b]:
        raise ValueError(f"{name}: inner sizes differ, a {a.shape} and b {b.shape}")


def _target(out: np.ndarray | None, shape: tuple[int, int], a: np.ndarray, b: np.ndarray):
    """Where a product kernel writes: ``out`` when it is C-contiguous and overlaps no
    operand (every kernel zeroes or overwrites its output before it has read all of
    its inputs), else a fresh array."""
    if out is None:
        return np.empty(shape, a.dtype)
    target = _writable_target(out, shape, a.dtype)
    if target is out and (np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        return np.empty(shape, a.dtype)
    return target


def _tiled(a_rows: np.ndarray, bt_rows: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a_rows @ bt_rows.T`` for C-contiguous operands, on as many threads as pays."""
    m, k = a_rows.shape
    n = bt_rows.shape[0]
    target = _target(out, (m, n), a_rows, bt_rows)
    threads = numba.get_num_threads()
    if threads > 1 and m * n * k >= PARALLEL_MIN_WORK and m >= 2 * TILE_ROWS:
        gemm_parallel(a_rows, bt_rows, target, threads)
    else:
        gemm_rows(a_rows, bt_rows, target, 0, m)
    return _deliver(target, out)


def _combined(a_rows: np.ndarray, b_rows: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a_rows @ b_rows`` by row combination: out[i] = sum_k a[i, k] * b[k, :]."""
    target = _target(out, (a_rows.shape[0], b_rows.shape[1]), a_rows, b_rows)
    combine_rows(a_rows, b_rows, np.zeros(b_rows.shape[1], a_rows.dtype), target)
    return _deliver(target, out)


def _dots(a_rows: np.ndarray, bt_rows: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a_rows @ bt_rows.T`` with one plain dot product per output: for narrow outputs."""
    target = _target(out, (a_rows.shape[0], bt_rows.shape[0]), a_rows, bt_rows)
    affine_dot(a_rows, bt_rows, np.zeros(bt_rows.shape[0], a_rows.dtype), target)
    return _deliver(target, out)


def _gram(at_rows: np.ndarray, b_rows: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``at_rows.T @ b_rows``, one outer product per row; the wider operand goes last so
    the innermost loop is the longer one, and a narrow result is transposed at the end."""
    m, n = at_rows.shape[1], b_rows.shape[1]
    if n >= m or n > 1 and m * n > 4096:  # (a transpose of a big result would not pay)
        target = _target(out, (m, n), at_rows, b_rows)
        gram(at_rows, b_rows, target)
        return _deliver(target, out)
    flipped = np.empty((n, m), at_rows.dtype)
    gram(b_rows, at_rows, flipped)
    # For n == 1 this is a reshape of the same memory; otherwise a small copy.
    result = flipped.reshape((m, 1)) if n == 1 else np.ascontiguousarray(flipped.T)
    if out is None:
        return result
    _writable_target(out, (m, n), at_rows.dtype)  # the shape and dtype check
    out[...] = result
    return out


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for ``a`` (M, K) and ``b`` (K, N), e.g. the input gradient ``g @ W``."""
    _check_product("matmul", a, b, 1, 0)
    (m, k), n = a.shape, b.shape[1]
    if not _combine_wins(m, k, n, a.itemsize):
        return _tiled(rows(a), rows_of_transpose(b), out)
    if n < NARROW:
        return _dots(rows(a), rows_of_transpose(b), out)  # b.T is n x k: a tiny copy
    return _combined(rows(a), rows(b), out)


def matmul_tn(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a.T @ b`` for ``a`` (K, M) and ``b`` (K, N), e.g. the weight gradient ``g.T @ x``."""
    _check_product("matmul_tn", a, b, 0, 0)
    (k, m), n = a.shape, b.shape[1]
    if not _gram_wins(m, k, n):
        return _tiled(rows_of_transpose(a), rows_of_transpose(b), out)
    return _gram(rows(a), rows(b), out)


def matmul_nt(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b.T`` for ``a`` (M, K) and ``b`` (N, K), e.g. the forward pass ``x @ W.T``.

    The tiled kernel's native form: no transpose is ever copied for it.
    """
    _check_product("matmul_nt", a, b, 1, 1)
    (m, k), n = a.shape, b.shape[0]
    if n < NARROW or m < NARROW and k <= SHORT_INNER:
        return _dots(rows(a), rows(b), out)  # (for a row or two, a transposed b costs more)
    if k > SHORT_INNER:
        return _tiled(rows(a), rows(b), out)  # long dot products: the tiles' best case
    return _combined(rows(a), rows_of_transpose(b), out)


def matmul_blocked(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rung 3 of the ladder, ``a @ b`` by the tiled kernel; the same as ``matmul``."""
    return matmul(a, b)


def matmul_naive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rung 1 of the ladder: ``a @ b`` by the textbook triple loop."""
    _check_product("matmul_naive", a, b, 1, 0)
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    naive_kernel(rows(a), rows(b), out)
    return out


def matmul_ikj(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rung 2 of the ladder: ``a @ b`` with the loops in cache-friendly i-k-j order."""
    _check_product("matmul_ikj", a, b, 1, 0)
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    ikj_kernel(rows(a), rows(b), out)
    return out


# --- the rest of forward and backward ----------------------------------------------------


def bias_add(
    x: np.ndarray, bias: np.ndarray, relu: bool = False, out: np.ndarray | None = None
) -> np.ndarray:
    """``x + bias[None, :]``, and ``max(., 0)`` of it if ``relu``; ``out=x`` works in place."""
    _float_arrays("bias_add", x, bias)
    _check_ndim("bias_add: x", x, 2)
    _check_ndim("bias_add: bias", bias, 1)
    if bias.shape[0] != x.shape[1]:
        raise ValueError(f"bias_add: bias {bias.shape} does not match x {x.shape}")
    target = _writable_target(out, x.shape, x.dtype, x, bias)
    bias_add_kernel(rows(x), rows(bias), bool(relu), target)
    return _deliver(target, out)


def relu_backward(
    grad_out: np.ndarray, out_relu: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """``grad_out * (out_relu > 0)``: the gradient through a ReLU, 0 where it output 0."""
    _float_arrays("relu_backward", grad_out, out_relu)
    if grad_out.shape != out_relu.shape:
        raise ValueError(f"relu_backward: shapes differ, {grad_out.shape} and {out_relu.shape}")
    if grad_out.ndim not in (1, 2):
        raise ValueError(f"relu_backward: need 1-D or 2-D arrays, got shape {grad_out.shape}")
    target = _writable_target(out, grad_out.shape, grad_out.dtype, grad_out, out_relu)
    as_2d = (1, -1) if grad_out.ndim == 1 else grad_out.shape
    relu_backward_kernel(
        rows(grad_out).reshape(as_2d), rows(out_relu).reshape(as_2d), target.reshape(as_2d)
    )
    return _deliver(target, out)


def column_sum(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``x.sum(axis=0)``: the bias gradient, the batch's gradients added up per column."""
    _float_arrays("column_sum", x)
    _check_ndim("column_sum: x", x, 2)
    target = _writable_target(out, (x.shape[1],), x.dtype)
    if out is not None and target is out and np.may_share_memory(out, x):
        target = np.empty((x.shape[1],), x.dtype)
    column_sum_kernel(rows(x), target)
    return _deliver(target, out)


def sgd_update(
    param: np.ndarray,
    grad: np.ndarray,
    velocity: np.ndarray | None,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
) -> None:
    """One ``torch.optim.SGD`` step, updating ``param`` and ``velocity`` in place.

    Per element: g = -grad if maximize else grad; g += weight_decay * param; with
    momentum, velocity = g on the first step, else momentum * velocity + (1 - dampening)
    * g, and g = g + momentum * velocity if nesterov else velocity; param -= lr * g.
    ``velocity`` may be None when ``momentum == 0``. The scalars are rounded to the
    arrays' dtype first, as torch does, so float32 results match NumPy's bit for bit.
    """
    arrays = (param, grad) if velocity is None else (param, grad, velocity)
    dtype = _float_arrays("sgd_update", *arrays)
    if any(array.shape != param.shape for array in arrays):
        shapes = ", ".join(str(array.shape) for array in arrays)
        raise ValueError(f"sgd_update: param, grad and velocity must match, got {shapes}")
    if velocity is None and momentum != 0:
        raise ValueError("sgd_update: momentum needs a velocity array")
    scalar = dtype.type
    # Work on flat C-contiguous views; copy in and back out only for other layouts.
    param_flat = rows(param).reshape(-1)
    velocity_flat = param_flat if velocity is None else rows(velocity).reshape(-1)
    sgd_update_kernel(
        param_flat,
        rows(grad).reshape(-1),
        velocity_flat,
        scalar(lr),
        scalar(momentum),
        scalar(1 - dampening),
        scalar(weight_decay),
        bool(nesterov),
        bool(maximize),
        bool(first_step),
    )
    if not np.shares_memory(param_flat, param):
        param[...] = param_flat.reshape(param.shape)
    if velocity is not None and not np.shares_memory(velocity_flat, velocity):
        velocity[...] = velocity_flat.reshape(velocity.shape)
