"""Kernels for small layers like the lesson's 32 x 32, used by the engine and by Linear.

A layer of width 32 makes products whose inner size is 32 (or 1). The generic tiled
kernels of ``scratch_gd/kernels`` work in dot-product form: each output is a dot product
summed in SIMD lanes, then the lanes are added together (a horizontal sum). With an inner
size of 32 that last step costs about as much as the dot product itself. So the kernels
here mostly use the *row-combination* form: a row of the result is a weighted sum of
rows of the right-hand matrix,

    out[n, :] = sum_k a[n, k] * m[k, :],

and the innermost loop runs along contiguous rows of ``m`` and ``out``: SIMD
multiply-adds with no horizontal sums at all. Each pass combines four rows of ``m`` and
writes two rows of ``out``, so every load and store of ``out`` serves several
multiply-adds. Two layouts of a batch use them:

* batch-major, a batch stored (B, features): ``affine_dot``, ``combine_rows``, ``gram``,
  used for small batches (``engine_rows.py``);
* feature-major, stored (features, B): ``combine_columns`` and ``gram_columns``, whose
  inner loops run along the batch, used for large batches (``engine_columns.py``). There
  the weight gradient is a dot product of two batch-long rows, long enough that the
  horizontal sum is cheap again, so ``gram_columns`` uses the dot-product form.

Every product is compiled with these fast-math flags only: ``reassoc`` and ``contract``
let LLVM regroup the sums and fuse multiply-adds (the last bits may differ from NumPy's
BLAS), but ``nnan``/``ninf`` are left out on purpose, so NaN and infinity still flow
through and the engine's divergence checks still see them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True)
def block(buffer, start, rows, cols):  # pragma: no cover - compiled
    """The (rows, cols) matrix view of ``buffer[start : start + rows * cols]``."""
    return buffer[start : start + rows * cols].reshape((rows, cols))


@njit(cache=True, fastmath=FAST)
def affine_dot(a, weight, bias, out):  # pragma: no cover - compiled
    """``out = a @ weight.T + bias`` with one dot product per output.

    Shapes: a (B, in), weight (out, in), bias (out,) -> out (B, out).
    out[n, o] = sum_i a[n, i] * weight[o, i] + bias[o]. Best when B is tiny (a weight
    transpose would cost more than the product) or ``out`` is narrow (the last layer).
    """
    for n in range(a.shape[0]):
        a_row = a[n]
        out_row = out[n]
        for o in range(weight.shape[0]):
            weight_row = weight[o]
            total = a_row.dtype.type(0)
            for i in range(a_row.shape[0]):
                total += a_row[i] * weight_row[i]
            out_row[o] = total + bias[o]


@njit(cache=True, fastmath=FAST)
def _combine_row(a_row, m, out_row):  # pragma: no cover - compiled
    # out_row += a_row @ m, four rows of m per pass over out_row.
    inner = a_row.shape[0]
    inner4 = inner - inner % 4
    for k in range(0, inner4, 4):
        s0, s1, s2, s3 = a_row[k], a_row[k + 1], a_row[k + 2], a_row[k + 3]
        m0, m1, m2, m3 = m[k], m[k + 1], m[k + 2], m[k + 3]
        for j in range(out_row.shape[0]):
            out_row[j] += (s0 * m0[j] + s1 * m1[j]) + (s2 * m2[j] + s3 * m3[j])
    for k in range(inner4, inner):
        s0 = a_row[k]
        m0 = m[k]
        for j in range(out_row.shape[0]):
            out_row[j] += s0 * m0[j]


@njit(cache=True, fastmath=FAST)
def combine_rows(a, m, init, out):  # pragma: no cover - compiled
    """``out = a @ m + init`` built row by row from rows of ``m``.

    Shapes: a (B, K), m (K, N), init (N,) -> out (B, N). Used for the forward pass
    (``m`` = weight.T, ``init`` = bias) and for the gradient of a layer's input
    (``m`` = weight, ``init`` = zeros): dL/da = G @ W.
    """
    rows, inner = a.shape
    width = m.shape[1]
    if inner == 1:
        # An outer product (a layer with one input, or the gradient from one output): one
        # pass per row, nothing to accumulate. 5x faster at 1000 x 1 x 32 than the passes below.
        m0 = m[0]
        for n in range(rows):
            scale, out_row = a[n, 0], out[n]
            for j in range(width):
                out_row[j] = init[j] + scale * m0[j]
        return
    inner4 = inner - inner % 4
    quads_end = rows - rows % 4
    for n in range(0, quads_end, 4):
        # Four output rows share every load of m: 16 multiply-adds per 4 loads of m and
        # 4 loads and stores of out (two rows per pass measured 20% slower at 32 x 32).
        a0, a1, a2, a3 = a[n], a[n + 1], a[n + 2], a[n + 3]
        out0, out1, out2, out3 = out[n], out[n + 1], out[n + 2], out[n + 3]
        for j in range(width):
            out0[j] = init[j]
            out1[j] = init[j]
            out2[j] = init[j]
            out3[j] = init[j]
        for k in range(0, inner4, 4):
            p0, p1, p2, p3 = a0[k], a0[k + 1], a0[k + 2], a0[k + 3]
            q0, q1, q2, q3 = a1[k], a1[k + 1], a1[k + 2], a1[k + 3]
            r0, r1, r2, r3 = a2[k], a2[k + 1], a2[k + 2], a2[k + 3]
            s0, s1, s2, s3 = a3[k], a3[k + 1], a3[k + 2], a3[k + 3]
            m0, m1, m2, m3 = m[k], m[k + 1], m[k + 2], m[k + 3]
            for j in range(width):
                x0, x1, x2, x3 = m0[j], m1[j], m2[j], m3[j]
                out0[j] += (p0 * x0 + p1 * x1) + (p2 * x2 + p3 * x3)
                out1[j] += (q0 * x0 + q1 * x1) + (q2 * x2 + q3 * x3)
                out2[j] += (r0 * x0 + r1 * x1) + (r2 * x2 + r3 * x3)
                out3[j] += (s0 * x0 + s1 * x1) + (s2 * x2 + s3 * x3)
        for k in range(inner4, inner):
            p0, q0, r0, s0 = a0[k], a1[k], a2[k], a3[k]
            m0 = m[k]
            for j in range(width):
                out0[j] += p0 * m0[j]
                out1[j] += q0 * m0[j]
                out2[j] += r0 * m0[j]
                out3[j] += s0 * m0[j]
    for n in range(quads_end, rows):
        out_row = out[n]
        for j in range(width):
            out_row[j] = init[j]
        _combine_row(a[n], m, out_row)


@njit(cache=True, fastmath=FAST)
def gram(g, a, out):  # pragma: no cover - compiled
    """``out = g.T @ a``: the weight gradient, summed over the batch.

    Shapes: g (B, O), a (B, I) -> out (O, I). out[o, :] = sum_n g[n, o] * a[n, :], so
    each sample adds the outer product of its ``g`` and ``a`` rows. Eight samples per
    pass: one load and one store of ``out[o]`` serve eight multiply-adds (four per pass
    measured 30% slower at 1000 x 32).
    """
    rows = g.shape[0]
    out[:] = 0
    rows8 = rows - rows % 8
    for n in range(0, rows8, 8):
        a0, a1, a2, a3 = a[n], a[n + 1], a[n + 2], a[n + 3]
        a4, a5, a6, a7 = a[n + 4], a[n + 5], a[n + 6], a[n + 7]
        for o in range(out.shape[0]):
            s0, s1, s2, s3 = g[n, o], g[n + 1, o], g[n + 2, o], g[n + 3, o]
            s4, s5, s6, s7 = g[n + 4, o], g[n + 5, o], g[n + 6, o], g[n + 7, o]
            out_row = out[o]
            for i in range(out_row.shape[0]):
                first = (s0 * a0[i] + s1 * a1[i]) + (s2 * a2[i] + s3 * a3[i])
                second = (s4 * a4[i] + s5 * a5[i]) + (s6 * a6[i] + s7 * a7[i])
                out_row[i] += first + second
    for n in range(rows8, rows):
        a_row = a[n]
        g_row = g[n]
        for o in range(out.shape[0]):
            s0 = g_row[o]
            out_row = out[o]
            for i in range(out_row.shape[0]):
                out_row[i] += s0 * a_row[i]


@njit(cache=True)
def transpose_into(source, out):  # pragma: no cover - compiled
    """``out[:] = source.T`` for 2-D arrays; shapes (R, C) -> (C, R)."""
    for r in range(source.shape[0]):
        source_row = source[r]
        for c in range(source.shape[1]):
            out[c, r] = source_row[c]


@njit(cache=True)
def relu_inplace(z):  # pragma: no cover - compiled
    """``z = max(z, 0)`` elementwise, z 2-D; NaN stays NaN (``<`` is false for NaN), as in
    NumPy. Row by row rather than over ``z.reshape(-1)``: a reshape costs ~25 ns a call."""
    zero = z.dtype.type(0)
    for r in range(z.shape[0]):
        row = z[r]
        for k in range(row.shape[0]):
            # "+ zero" stops LLVM from seeing "store back what was there" and emitting a
            # masked store, which is several times slower on AMD Zen than a plain one.
            # Spelled out rather than max(): "<" is false for NaN, so NaN passes through.
            value = row[k]
            row[k] = (zero if value < zero else value) + zero  # noqa: FURB136


@njit(cache=True)
def relu_mask_inplace(grad, out_relu):  # pragma: no cover - compiled
    """``grad *= [out_relu > 0]``: the gradient through a ReLU, 0 where it output 0.

    Shapes: grad and out_relu alike, 2-D. Like torch, the slope at exactly 0 is taken as
    0. The "+ zero" keeps the store unconditional (see ``relu_inplace``).
    """
    zero = grad.dtype.type(0)
    for r in range(grad.shape[0]):
        grad_row, out_row = grad[r], out_relu[r]
        for k in range(grad_row.shape[0]):
            grad_row[k] = (grad_row[k] if out_row[k] > zero else zero) + zero


@njit(cache=True)
def count_not_finite(values):  # pragma: no cover - compiled
    """How many entries of the 1-D array are NaN or infinite (0 when all are finite).

    ``abs(v) <= max`` is false exactly for NaN and +-inf; counting in an integer lets
    LLVM vectorise the loop without reordering any floating-point sum.
    """
    largest = np.finfo(values.dtype).max
    bad = 0
    for k in range(values.shape[0]):
        bad += 0 if abs(values[k]) <= largest else 1
    return bad


# --- Feature-major ("columns") kernels: a batch of B samples stored as (features, B) --------
# With B in the last, contiguous dimension every inner loop runs along the batch, which
# for a full batch of 1000 is long enough that loop set-up and alias checks vanish.


@njit(cache=True, fastmath=FAST)
def combine_columns(c, m, init, out):  # pragma: no cover - compiled
    """``out = c @ m + init[:, None]``: out[o, :] = init[o] + sum_k c[o, k] * m[k, :].

    Shapes: c (O, K), m (K, B), init (O,) -> out (O, B). The forward pass is
    ``combine_columns(W, a, b, z)`` and the input gradient is ``combine_columns(W.T, G, 0, .)``.
    Two output rows and four rows of ``m`` per pass: 8 multiply-adds per 4 loads of ``m``.
    """
    rows, inner = c.shape
    width = m.shape[1]
    inner4 = inner - inner % 4
    for o in range(0, rows - rows % 2, 2):
        out0, out1 = out[o], out[o + 1]
        c0, c1 = c[o], c[o + 1]
        first0, first1 = init[o], init[o + 1]
        for n in range(width):
            out0[n] = first0
            out1[n] = first1
        for k in range(0, inner4, 4):
            p0, p1, p2, p3 = c0[k], c0[k + 1], c0[k + 2], c0[k + 3]
            q0, q1, q2, q3 = c1[k], c1[k + 1], c1[k + 2], c1[k + 3]
            m0, m1, m2, m3 = m[k], m[k + 1], m[k + 2], m[k + 3]
            for n in range(width):
                x0, x1, x2, x3 = m0[n], m1[n], m2[n], m3[n]
                out0[n] += (p0 * x0 + p1 * x1) + (p2 * x2 + p3 * x3)
                out1[n] += (q0 * x0 + q1 * x1) + (q2 * x2 + q3 * x3)
        for k in range(inner4, inner):
            p0, q0 = c0[k], c1[k]
            m0 = m[k]
            for n in range(width):
                out0[n] += p0 * m0[n]
                out1[n] += q0 * m0[n]
    if rows % 2:
        o = rows - 1
        out0, c0, first0 = out[o], c[o], init[o]
        for n in range(width):
            out0[n] = first0
        for k in range(0, inner4, 4):
            p0, p1, p2, p3 = c0[k], c0[k + 1], c0[k + 2], c0[k + 3]
            m0, m1, m2, m3 = m[k], m[k + 1], m[k + 2], m[k + 3]
            for n in range(width):
                out0[n] += (p0 * m0[n] + p1 * m1[n]) + (p2 * m2[n] + p3 * m3[n])
        for k in range(inner4, inner):
            p0 = c0[k]
            m0 = m[k]
            for n in range(width):
                out0[n] += p0 * m0[n]


@njit(cache=True, fastmath=FAST)
def gram_columns(g, a, out):  # pragma: no cover - compiled
    """``out = g @ a.T``, the weight gradient: out[o, i] = sum_n g[o, n] * a[i, n].

    Shapes: g (O, B), a (I, B) -> out (O, I).
    Dot-product form along the batch, 4 x 2 outputs at a time: 8 running sums, 6 loads
    per 8 multiply-adds, and one horizontal sum per output at the end of a long
    (B-sized) reduction.
    """
    rows, width = g.shape
    inner = a.shape[0]
    rows4 = rows - rows % 4
    inner2 = inner - inner % 2
    zero = out.dtype.type(0)
    out[:] = 0
    for o in range(0, rows4, 4):
        g0, g1, g2, g3 = g[o], g[o + 1], g[o + 2], g[o + 3]
        for i in range(0, inner2, 2):
            x0, x1 = a[i], a[i + 1]
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = zero
            for n in range(width):
                y0, y1 = x0[n], x1[n]
                c00 += g0[n] * y0
                c01 += g0[n] * y1
                c10 += g1[n] * y0
                c11 += g1[n] * y1
                c20 += g2[n] * y0
                c21 += g2[n] * y1
                c30 += g3[n] * y0
                c31 += g3[n] * y1
            out[o, i] += c00
            out[o, i + 1] += c01
            out[o + 1, i] += c10
            out[o + 1, i + 1] += c11
            out[o + 2, i] += c20
            out[o + 2, i + 1] += c21
            out[o + 3, i] += c30
            out[o + 3, i + 1] += c31
        if inner % 2:
            x0 = a[inner - 1]
            c00 = c10 = c20 = c30 = zero
            for n in range(width):
                y0 = x0[n]
                c00 += g0[n] * y0
                c10 += g1[n] * y0
                c20 += g2[n] * y0
                c30 += g3[n] * y0
            out[o, inner - 1] += c00
            out[o + 1, inner - 1] += c10
            out[o + 2, inner - 1] += c20
            out[o + 3, inner - 1] += c30
    for o in range(rows4, rows):
        g0 = g[o]
        for i in range(inner):
            x0 = a[i]
            total = zero
            for n in range(width):
                total += g0[n] * x0[n]
            out[o, i] += total


@njit(cache=True, fastmath=FAST)
def row_sums(g, out):  # pragma: no cover - compiled
    """``out = g.sum(axis=1)``: the bias gradient, feature-major. Shapes: g (O, B) -> (O,)."""
    for o in range(g.shape[0]):
        row = g[o]
        total = out.dtype.type(0)
        for n in range(row.shape[0]):
            total += row[n]
        out[o] = total
