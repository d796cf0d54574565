"""The compiled shuffle is the reference shuffle: the same batches, index for index."""

from __future__ import annotations

import numpy as np
import pytest

from scratch_gd.engine.sampling import first_of_shuffle as compiled_shuffle
from scratch_gd.reference.sampling import BatchSampler, first_of_shuffle


@pytest.mark.parametrize(("n", "batch_size"), [(1, 1), (10, 1), (10, 10), (1000, 128), (97, 13)])
def test_compiled_and_reference_samplers_draw_identical_batches(n, batch_size):
    plain = BatchSampler(n, batch_size, seed=11)
    fast = BatchSampler(n, batch_size, seed=11, shuffle=compiled_shuffle)
    for steps in (1, 7, 40):  # chunks of any size continue the same stream
        mine, theirs = plain.next_chunk(steps), fast.next_chunk(steps)
        np.testing.assert_array_equal(mine[0], theirs[0])
        np.testing.assert_array_equal(mine[1], theirs[1])
    assert plain.shuffle is first_of_shuffle


def test_a_lesson_batch_holds_distinct_samples_and_about_632_are_seen_in_1000_steps():
    sampler = BatchSampler(1000, 1, seed=0, shuffle=compiled_shuffle)
    indices, _ = sampler.next_chunk(1000)
    seen = len(np.unique(indices))
    assert abs(seen - 1000 * (1 - np.exp(-1))) < 40  # 632 expected, sd about 8
    batch, _ = BatchSampler(1000, 128, seed=0).next_chunk(1)
    assert len(np.unique(batch)) == 128
