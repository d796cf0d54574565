"""The first two rungs of the matmul ladder: the textbook loop and the cache-friendly one.

Both compute ``out = a @ b`` for C-contiguous ``a`` (M, K) and ``b`` (K, N). They are
here to be read and measured against each other and against the best kernel in
``tiled.py``; ``matmul`` never uses them.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def naive_kernel(a, b, out):  # pragma: no cover - compiled
    # out[i, j] = sum_k a[i, k] * b[k, j], exactly as written on paper. The innermost
    # loop walks down a *column* of b: every step jumps a whole row (N * 4 bytes) ahead,
    # so each multiply-add waits on a fresh cache line, and nothing can be vectorised
    # because the loads are not next to each other.
    m, k_size = a.shape
    n = b.shape[1]
    for i in range(m):
        for j in range(n):
            total = out.dtype.type(0)
            for k in range(k_size):
                total += a[i, k] * b[k, j]
            out[i, j] = total


@njit(cache=True, fastmath=True)
def ikj_kernel(a, b, out):  # pragma: no cover - compiled
    # The same sum with the two inner loops swapped: out[i, :] += a[i, k] * b[k, :].
    # Now the innermost loop reads a row of b and updates a row of out, both contiguous,
    # so the CPU streams whole cache lines and the compiler turns the loop into SIMD
    # multiply-adds (16 float32 at a time with AVX-512). The price: out[i, :] is loaded
    # and stored again for every k, so this form is bound by memory traffic, not by the
    # arithmetic units.
    m, k_size = a.shape
    n = b.shape[1]
    for i in range(m):
        out_row = out[i]
        out_row[:] = 0
        for k in range(k_size):
            scale = a[i, k]
            b_row = b[k]
            for j in range(n):
                out_row[j] += scale * b_row[j]
