"""Hand-written Numba kernels for everything the MLP computes, checked against NumPy.

The matmul ladder, slowest to fastest (see ``benchmarks/bench_kernels.py``):

* ``matmul_naive``: the i-j-k triple loop from the definition (``ladder.py``).
* ``matmul_ikj``: the same loops reordered to stream rows (``ladder.py``).
* ``matmul_blocked``: register tiles, K-blocking and threads (``tiled.py``); what
  ``matmul``, ``matmul_tn`` and ``matmul_nt`` run, after packing (``pack.py``).

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


def _product(a_rows: np.ndarray, bt_rows: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a_rows @ bt_rows.T`` for C-contiguous operands, on as many threads as pays."""
    m, k = a_rows.shape
    n = bt_rows.shape[0]
    # The kernel zeroes its output first, so it must not overlap an operand at all.
    target = _writable_target(out, (m, n), a_rows.dtype)
    overlaps = np.may_share_memory(target, a_rows) or np.may_share_memory(target, bt_rows)
    if target is out and overlaps:
        target = np.empty((m, n), a_rows.dtype)
    threads = numba.get_num_threads()
    if threads > 1 and m * n * k >= PARALLEL_MIN_WORK and m >= 2 * TILE_ROWS:
        gemm_parallel(a_rows, bt_rows, target, threads)
    else:
        gemm_rows(a_rows, bt_rows, target, 0, m)
    return _deliver(target, out)


def _check_product(name: str, a: np.ndarray, b: np.ndarray, inner_a: int, inner_b: int) -> None:
    _float_arrays(name, a, b)
    _check_ndim(f"{name}: a", a, 2)
    _check_ndim(f"{name}: b", b, 2)
    if a.shape[inner_a] != b.shape[inner_b]:
        raise ValueError(f"{name}: inner sizes differ, a {a.shape} and b {b.shape}")


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for ``a`` (M, K) and ``b`` (K, N): the tiled kernel on ``a`` and ``b.T``."""
    _check_product("matmul", a, b, 1, 0)
    return _product(rows(a), rows_of_transpose(b), out)


def matmul_tn(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a.T @ b`` for ``a`` (K, M) and ``b`` (K, N), e.g. the weight gradient ``g.T @ x``."""
    _check_product("matmul_tn", a, b, 0, 0)
    return _product(rows_of_transpose(a), rows_of_transpose(b), out)


def matmul_nt(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b.T`` for ``a`` (M, K) and ``b`` (N, K), e.g. the forward pass ``x @ W.T``.

    This is the kernel's native form: no transpose is ever copied.
    """
    _check_product("matmul_nt", a, b, 1, 1)
    return _product(rows(a), rows(b), out)


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
