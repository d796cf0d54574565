"""The compare figures' own pieces: plain-text log labels and fixed margins."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from scratch_gd.lab import race_plots


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.01, "0.01"), (0.1, "0.1"), (1.0, "1"), (100.0, "100"), (1e3, "10³"), (1e6, "10⁶"),
     (1e-3, "10⁻³"), (1e-12, "10⁻¹²"), (5.0, "5"), (0.0, "")],
)  # fmt: skip
def test_log_labels_are_plain_numbers_then_powers_of_ten(value, text):
    assert race_plots.log_label(value) == text


def test_minor_labels_appear_only_on_an_axis_shorter_than_two_decades():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [2.0, 9.0])
    race_plots.log_scale(ax.yaxis)
    labels = race_plots.MinorLogLabels()
    labels.set_axis(ax.yaxis)
    ax.set_ylim(1.5, 9.5)  # less than a decade: 2 and 5 are all there is to read by
    assert labels(2.0) == "2" and labels(5.0) == "5"
    ax.set_ylim(0.01, 100)  # four decades: the powers of ten are enough
    assert labels(2.0) == ""
    plt.close(fig)


def test_fixed_margins_are_in_inches_whatever_the_size():
    for size in [(6, 4), (12, 8)]:
        fig, ax = plt.subplots(figsize=size)
        race_plots.place(fig, left=0.75, bottom=0.6)
        box = ax.get_position()
        assert box.x0 * size[0] == pytest.approx(0.75) and box.y0 * size[1] == pytest.approx(0.6)
        assert fig.get_layout_engine() is not None  # so png_bytes draws it once, not "tight"
        plt.close(fig)
