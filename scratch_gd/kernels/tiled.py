"""The top rung: a register-tiled, K-blocked, multi-threaded matmul in dot-product form.

It computes ``out = a @ bt.T`` where both ``a`` (M, K) and ``bt`` (N, K) are
C-contiguous: every output is the dot product of a row of ``a`` with a row of ``bt``,
and both rows are contiguous in memory. ``pack.py`` brings any other product into this
form (``a @ b`` needs ``b`` transposed, ``a.T @ b`` needs both).

Why each ingredient helps:

* Register tile. One pass over k computes a 4 x 3 block of outputs at once: 4 rows of
  ``a`` and 3 rows of ``bt`` are loaded (7 loads) and feed 12 multiply-adds. A plain
  dot product does 2 loads per multiply-add, and loads, not arithmetic, would limit it.
* Dot-product form. The 12 partial sums live in scalar variables and the loop over k
  is the innermost one, over contiguous memory, with no stores in it. LLVM vectorises
  exactly this shape: each sum becomes a SIMD register of 16 float32 (8 float64) lanes,
  summed across lanes once at the end of the tile. ``fastmath`` is what allows that
  reordering of the additions. (The classic outer-product tile, which updates a block
  of outputs in memory for every k, is not vectorised by Numba.)
* K-blocking. The k range is cut into blocks of ``KC_BYTES``, and the columns into
  panels of ``PANEL_ROWS`` rows of ``bt``: 4 rows of ``a`` stay in the L1 cache while
  they meet a whole panel, and the panel stays in L2 while every row block meets it.
  Blocks must not be too short either: every tile ends with 12 horizontal sums, a cost
  paid once per block.
* Threads. Row blocks are independent, so ``prange`` hands them to the cores. A
  parallel region costs microseconds to start, so ``matmul`` only uses it for
  products of ``PARALLEL_MIN_WORK`` multiply-adds or more.
"""

from __future__ import annotations

from numba import njit, prange

TILE_ROWS = 4  # rows of a per register tile
TILE_COLS = 3  # rows of bt (columns of the output) per register tile
KC_BYTES = 4096  # one row of a K block: 1024 float32 or 512 float64
PANEL_ROWS = 120  # rows of bt per panel, a multiple of TILE_COLS; 120 x 4 KiB fits in L2
PARALLEL_MIN_WORK = 96**3  # M * N * K below which threads cost more than they save


@njit(cache=True, fastmath=True, inline="always")
def _dot(x, y):  # pragma: no cover - compiled
    # The 1 x 1 tile, for the rows and columns a full tile does not cover.
    total = x.dtype.type(0)
    for k in range(x.shape[0]):
        total += x[k] * y[k]
    return total


@njit(cache=True, fastmath=True, inline="always")
def _tile_4x3(a, bt, out, i, j, k0, k1):  # pragma: no cover - compiled
    # 1-D slices indexed from 0: Numba then knows every index is in range and non-negative
    # and emits no wraparound checks, which would otherwise stop vectorisation.
    a0, a1, a2, a3 = a[i, k0:k1], a[i + 1, k0:k1], a[i + 2, k0:k1], a[i + 3, k0:k1]
    b0, b1, b2 = bt[j, k0:k1], bt[j + 1, k0:k1], bt[j + 2, k0:k1]
    zero = out.dtype.type(0)
    c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = zero
    for k in range(k1 - k0):
        x0, x1, x2, x3 = a0[k], a1[k], a2[k], a3[k]
        y0, y1, y2 = b0[k], b1[k], b2[k]
        c00 += x0 * y0
        c01 += x0 * y1
        c02 += x0 * y2
        c10 += x1 * y0
        c11 += x1 * y1
        c12 += x1 * y2
        c20 += x2 * y0
        c21 += x2 * y1
        c22 += x2 * y2
        c30 += x3 * y0
        c31 += x3 * y1
        c32 += x3 * y2
    out[i, j] += c00
    out[i, j + 1] += c01
    out[i, j + 2] += c02
    out[i + 1, j] += c10
    out[i + 1, j + 1] += c11
    out[i + 1, j + 2] += c12
    out[i + 2, j] += c20
    out[i + 2, j + 1] += c21
    out[i + 2, j + 2] += c22
    out[i + 3, j] += c30
    out[i + 3, j + 1] += c31
    out[i + 3, j + 2] += c32


@njit(cache=True, fastmath=True)
def gemm_rows(a, bt, out, row_start, row_stop):  # pragma: no cover - compiled
    """``out[row_start:row_stop] = a[row_start:row_stop] @ bt.T``, on one thread."""
    k_size = a.shape[1]
    n = bt.shape[0]
    kc = max(1, KC_BYTES // a.itemsize)
    out[row_start:row_stop] = 0
    tiled_row_stop = row_start + (row_stop - row_start) // TILE_ROWS * TILE_ROWS
    for panel_start in range(0, n, PANEL_ROWS):
        panel_stop = min(n, panel_start + PANEL_ROWS)
        tiled_panel_stop = panel_start + (panel_stop - panel_start) // TILE_COLS * TILE_COLS
        for k0 in range(0, k_size, kc):
            k1 = min(k_size, k0 + kc)
            for i in range(row_start, tiled_row_stop, TILE_ROWS):
                for j in range(panel_start, tiled_panel_stop, TILE_COLS):
                    _tile_4x3(a, bt, out, i, j, k0, k1)
                # Columns left over at the panel's right edge.
                for j in range(tiled_panel_stop, panel_stop):
                    for di in range(TILE_ROWS):
                        out[i + di, j] += _dot(a[i + di, k0:k1], bt[j, k0:k1])
            # Rows left over at the bottom.
            for i in range(tiled_row_stop, row_stop):
                for j in range(panel_start, panel_stop):
                    out[i, j] += _dot(a[i, k0:k1], bt[j, k0:k1])


@njit(cache=True, parallel=True)
def gemm_parallel(a, bt, out, n_chunks):  # pragma: no cover - compiled
    """``out = a @ bt.T`` with the rows split into ``n_chunks`` blocks, one per thread."""
    m = a.shape[0]
    # Chunk edges on multiples of TILE_ROWS, so only the last chunk has leftover rows.
    tiles = (m + TILE_ROWS - 1) // TILE_ROWS
    for chunk in prange(n_chunks):
        row_start = min(m, (tiles * chunk // n_chunks) * TILE_ROWS)
        row_stop = min(m, (tiles * (chunk + 1) // n_chunks) * TILE_ROWS)
        gemm_rows(a, bt, out, row_start, row_stop)
