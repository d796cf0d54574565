"""The lesson sampler's inner loop, compiled: ``reference.sampling.first_of_shuffle`` itself.

Numba compiles the very function a learner reads, so the batches are the same to the last
index (``tests/engine/test_sampling.py``); only the speed differs (a Python loop of B swaps
per step is the slowest part of a full-batch step on the layer path).
"""

from __future__ import annotations

from numba import njit

from ..reference import sampling

first_of_shuffle = njit(cache=True)(sampling.first_of_shuffle)
