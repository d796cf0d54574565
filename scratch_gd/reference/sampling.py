"""Which samples go into each step's batch: the lesson's way, and true epochs.

``lesson``: every step shuffles the whole data set afresh and takes the first
``batch_size`` samples (what ``next(iter(DataLoader(..., shuffle=True)))`` does each
step). Over many steps some samples are seen often and some not at all: 1000 steps of
batch 1 on 1000 samples see about 632 distinct ones (1 - 1/e of them).

``epoch``: shuffle once, walk through the data batch by batch, reshuffle when it runs
out; every sample is seen exactly once per epoch. ``drop_last`` skips a short final batch.

Both are driven by one seeded generator, and both hand out batches in chunks
(``indices``, ``starts``): batch k is ``indices[starts[k]:starts[k + 1]]``. Every engine
reads the same chunks, so the same seed gives the same batches everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

MODES = ("lesson", "epoch")


def first_of_shuffle(
    order: np.ndarray, uniforms: np.ndarray, batch_size: int, steps: int, out: np.ndarray
) -> None:
    """``steps`` times: shuffle ``order``, write its first ``batch_size`` entries to ``out``.

    "Shuffle, take the first B" only needs the first B swaps of a Fisher-Yates shuffle:
    O(B) work per step instead of O(n). Swap i picks j uniformly from i..n-1 using
    ``uniforms`` (one number in [0, 1) per swap). The order carries over from step to
    step; Fisher-Yates makes any starting order uniformly random, so that is harmless.
    """
    n = order.shape[0]
    for step in range(steps):
        for i in range(batch_size):
            j = min(i + int(uniforms[step * batch_size + i] * (n - i)), n - 1)
            order[i], order[j] = order[j], order[i]
            out[step * batch_size + i] = order[i]


class BatchSampler:
    """Hands out the sample indices of each step's batch, reproducibly from ``seed``.

    ``shuffle`` runs ``first_of_shuffle``; ``scratch_gd.engine.sampling`` passes in the
    same function compiled by Numba, which draws the very same batches, only faster.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        mode: str = "lesson",
        seed: int = 0,
        drop_last: bool = False,
        shuffle: Callable = first_of_shuffle,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown sampling mode {mode!r}; choose one of {', '.join(MODES)}")
        if not 1 <= batch_size <= n:
            raise ValueError(
                f"batch size must be between 1 and the data size {n}, got {batch_size}"
            )
        self.n = n
        self.batch_size = batch_size
        self.mode = mode
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)
        self.shuffle = shuffle
        self._order = np.arange(n, dtype=np.int64)
        self._epoch_order = np.empty(0, dtype=np.int64)
        self._position = 0  # where the next epoch-mode batch starts in _epoch_order
        self.epochs_started = 0

    def next_chunk(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``steps`` batches as ``(indices, starts)``; see the module docstring."""
        if self.mode == "lesson":
            indices = np.empty(steps * self.batch_size, dtype=np.int64)
            uniforms = self.rng.random(steps * self.batch_size)
            self.shuffle(self._order, uniforms, self.batch_size, steps, indices)
            starts = np.arange(steps + 1, dtype=np.int64) * self.batch_size
            return indices, starts
        pieces, sizes = [], []
        for _ in range(steps):
            batch = self._next_epoch_batch()
            pieces.append(batch)
            sizes.append(len(batch))
        starts = np.zeros(steps + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        return np.concatenate(pieces) if pieces else np.empty(0, np.int64), starts

    def _next_epoch_batch(self) -> np.ndarray:
        remaining = len(self._epoch_order) - self._position
        if remaining == 0 or (self.drop_last and remaining < self.batch_size):
            self._epoch_order = self.rng.permutation(self.n)
            self._position = 0
            self.epochs_started += 1
        batch = self._epoch_order[self._position : self._position + self.batch_size]
        self._position += len(batch)
        return batch

    def batches(self, steps: int, chunk: int = 1024) -> Iterator[np.ndarray]:
        """Yield the index array of each of the next ``steps`` batches."""
        done = 0
        while done < steps:
            count = min(chunk, steps - done)
            indices, starts = self.next_chunk(count)
            for k in range(count):
                yield indices[starts[k] : starts[k + 1]]
            done += count
