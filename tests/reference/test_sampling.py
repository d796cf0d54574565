"""Batches: the lesson's fresh-shuffle draw and true epochs, both reproducible."""

import numpy as np
import pytest

from scratch_gd import BatchSampler


def test_lesson_batches_are_distinct_samples_of_the_right_size():
    sampler = BatchSampler(50, 7, seed=1)
    for batch in sampler.batches(200):
        assert len(batch) == 7
        assert len(set(batch.tolist())) == 7  # a shuffle's prefix never repeats a sample
        assert batch.min() >= 0 and batch.max() < 50


def test_lesson_draw_is_uniform_over_samples():
    """Every sample is equally likely to be in a batch: counts within 5 sigma of n*B/N."""
    n, batch_size, steps = 20, 5, 20000
    counts = np.bincount(np.concatenate(list(BatchSampler(n, batch_size).batches(steps))), None, n)
    expected = steps * batch_size / n
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_full_batch_lesson_draw_uses_every_sample_each_step():
    for batch in BatchSampler(30, 30, seed=3).batches(5):
        assert sorted(batch.tolist()) == list(range(30))


def test_epoch_mode_sees_every_sample_once_per_epoch():
    sampler = BatchSampler(10, 3, mode="epoch", seed=0)
    batches = list(sampler.batches(8))  # 4 batches per epoch: 3 + 3 + 3 + 1
    assert [len(b) for b in batches] == [3, 3, 3, 1] * 2
    for epoch in (batches[:4], batches[4:]):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    assert sampler.epochs_started == 2


def test_epoch_mode_drop_last_skips_the_short_batch():
    batches = list(BatchSampler(10, 3, mode="epoch", drop_last=True).batches(6))
    assert [len(b) for b in batches] == [3] * 6
    assert len(set(np.concatenate(batches[:3]).tolist())) == 9


@pytest.mark.parametrize("mode", ["lesson", "epoch"])
def test_same_seed_same_batches_whatever_the_chunking(mode):
    one = np.concatenate(list(BatchSampler(40, 6, mode=mode, seed=7).batches(100, chunk=100)))
    other = np.concatenate(list(BatchSampler(40, 6, mode=mode, seed=7).batches(100, chunk=9)))
    third = np.concatenate(list(BatchSampler(40, 6, mode=mode, seed=8).batches(100)))
    assert np.array_equal(one, other)
    assert not np.array_equal(one, third)


@pytest.mark.parametrize("batch_size", [0, 11])
def test_batch_size_outside_the_data_is_refused(batch_size):
    with pytest.raises(ValueError, match="between 1 and the data size 10"):
        BatchSampler(10, batch_size)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown sampling mode"):
        BatchSampler(10, 2, mode="random")
