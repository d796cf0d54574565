"""Packing: bring any operand into the layout the tiled kernel reads, copying only if needed.

The kernel wants the K axis contiguous in both operands. A C-contiguous array already
has it along its rows; the transpose of a C-contiguous array has it along its columns,
so it is copied into its transpose once, in O(size) work, before the O(M * N * K)
product. Views that are neither (strided slices, odd strides) are copied too: a strided
view read inside the kernel can cost several times the copy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_BLOCK = 16  # rows copied together, so the reads of one column stay in a few cache lines


@njit(cache=True)
def _transpose_into(src, dst):  # pragma: no cover - compiled
    # Walking src along columns would touch a new cache line per element; taking 16 rows
    # at a time reuses each line fetched for the next 15 columns.
    rows, cols = src.shape
    for r0 in range(0, rows, _BLOCK):
        r1 = min(rows, r0 + _BLOCK)
        for c in range(cols):
            dst_piece = dst[c, r0:r1]
            for r in range(r1 - r0):
                dst_piece[r] = src[r0 + r, c]


def rows(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous array (itself when it already is one)."""
    return np.ascontiguousarray(x)


def rows_of_transpose(x: np.ndarray) -> np.ndarray:
    """``x.T`` as a C-contiguous array: free if ``x`` is Fortran-ordered, else one copy."""
    if x.T.flags.c_contiguous:
        return x.T
    out = np.empty(x.shape[::-1], dtype=x.dtype)
    _transpose_into(np.ascontiguousarray(x), out)
    return out
