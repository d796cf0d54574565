"""What the lab's tables and figures claim must follow from their data (issue 10).

One rule for "diverged" and "stuck", the noise floor computed from the data, tables whose
numbers keep their width, figure titles that name no winner the data does not show, and a
fair race whose clock leaves one-time costs out. No test here times anything.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.engine import compiled
from scratch_gd.lab import fair, lr_grid, momentum, race, race_plots, verdict
from scratch_gd.run.history import History
from scratch_gd.store.datasets import load_dataset


def make_history(loss, batch_size: int = 1, n_samples: int = 10) -> History:
    loss = np.asarray(loss, dtype=float)
    steps = np.arange(1, len(loss) + 1)
    return History(loss, steps * batch_size, np.linspace(0.01, 1, len(loss)), batch_size,
                   n_samples, "lesson", "layers")  # fmt: skip


# --- The noise floor ----------------------------------------------------------------------


def test_the_noise_floor_is_the_mean_square_of_the_lessons_noise():
    x, y = sg.lesson_data()
    noise = np.random.RandomState(0).randn(1000)  # how the lesson draws it
    floor = verdict.noise_floor(x, y)
    assert floor == pytest.approx(np.mean(noise**2), rel=1e-6)  # float32 data, float64 sum
    assert floor == pytest.approx(0.976, abs=5e-4)  # the value README.md quotes


def test_the_noise_floor_follows_the_data_and_is_absent_for_other_data():
    x, y = sg.lesson_data(200, seed=3, dtype=np.float64)
    assert verdict.noise_floor(x, y) == pytest.approx(np.mean((y - 0.3 * x**2) ** 2))
    assert verdict.noise_floor(x + 0.5, y) is None  # not the lesson's x grid
    assert verdict.noise_floor(np.hstack([x, x]), y) is None
    dataset = load_dataset("lesson", n=100, validation=0.2, seed=0)
    rows = dataset.x_train[:, 0].astype(np.float64)  # a shuffled subset: known by its name
    expected = np.mean((dataset.y_train[:, 0].astype(np.float64) - 0.3 * rows**2) ** 2)
    assert verdict.dataset_noise_floor(dataset) == pytest.approx(expected)


# --- Diverged and stuck: one rule ------------------------------------------------------------


@pytest.mark.parametrize(
    ("final", "initial", "stopped", "expected"),
    [
        (math.inf, 13.0, False, True),
        (math.nan, 13.0, False, True),
        (1.0, 13.0, True, True),  # training stopped on a non-finite number
        (37.0, 12.8, False, True),  # the fair sweep's batch-1 lr 0.1: ended at 37
        (2.3e27, 13.0, False, True),  # lr-grid's momentum-1 blow-up, finite but huge
        (25.0, 13.0, False, False),  # worse than the start, but within the factor
        (0.97, 13.0, False, False),
    ],
)
def test_the_divergence_rule(final, initial, stopped, expected):
    assert verdict.diverged(final, initial, stopped=stopped) is expected


def test_a_finite_blow_up_is_a_diverged_cell_of_the_grid():
    x = np.linspace(-1, 1, 40).reshape(-1, 1).astype(np.float32)
    y = (x**2).astype(np.float32)
    kwargs = dict(x=x, y=y, batch_size=40, steps=30, sizes=[1, 8, 1], seed=0)
    initial = lr_grid.lr_momentum_grid([1e-2], [0.0], **kwargs).initial_loss
    ok = lr_grid.run_cell(1e-2, 0.0, **kwargs, initial_loss=initial)
    assert not ok.diverged and not ok.blew_up
    # The same finite run judged against a tiny "initial" loss ended far above it.
    judged = lr_grid.run_cell(1e-2, 0.0, **kwargs, initial_loss=ok.final_loss / 10)
    assert math.isfinite(judged.final_loss) and judged.diverged and judged.diverged_at is None


def test_the_grid_states_its_rules_and_marks_stuck_cells_as_stuck():
    x = np.linspace(-1, 1, 40).reshape(-1, 1).astype(np.float32)
    y = (x**2).astype(np.float32)
    result = lr_grid.lr_momentum_grid(
        [1e-2], [0.0], x, y, batch_size=40, steps=5, sizes=[1, 8, 1], seed=0
    )
    result.cells[0].stuck = True
    table = lr_grid.grid_table(result)
    assert "stuck" in table and "dead" not in table
    assert verdict.DIVERGED_RULE in table
    assert f"Var(y) = {verdict.target_variance(y):.4g}" in table
    assert result.ceiling == pytest.approx(verdict.DIVERGED_FACTOR * result.initial_loss)


def test_the_fair_race_judges_a_run_by_the_same_rule():
    def result(losses, final, stopped=None):
        history = make_history(np.ones(3))
        history.diverged_at = stopped
        for step, loss in losses:
            history.evaluations.append(
                sg.run.history.Evaluation(step, step, 0.0, {race.FULL_LOSS: loss})
            )
        config = race.RegimeConfig(1, 0.9, 0.1)
        return race.RegimeResult("Stochastic", config, history, None, final)

    assert fair.is_diverged(result([(0, 12.8), (3, 37.0)], 37.0))
    assert not fair.is_diverged(result([(0, 12.8), (3, 1.2)], 1.2))
    assert fair.is_diverged(result([(0, 12.8)], 1.0, stopped=2))


def test_momentum_runs_are_judged_by_the_same_rule():
    history = make_history(np.ones(3), 10, 10)
    run = momentum.MomentumRun(
        1.0, 1e-3, history, np.array([0, 3]), np.array([13.0, 40.0]), None, np.zeros(4)
    )
    assert run.diverged and "diverged" in momentum.momentum_table([run])
    run.full_loss = np.array([13.0, 20.0])
    assert not run.diverged


# --- Tables keep their width -----------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 1e-7, 0.9588, 12.79, 99999.0, 2.3e27, 1e40, math.inf])
def test_numbers_in_tables_have_a_bounded_width(value):
    text = race.number_text(value)
    assert len(text) <= 10
    if math.isfinite(value):
        assert float(text) == pytest.approx(value, rel=1e-2, abs=1e-4)


def test_a_blown_up_compare_row_is_as_wide_as_the_header():
    history = make_history([1.0, 1e40])
    config = race.RegimeConfig(1, 0.0, 1.0)
    results = [
        race.RegimeResult("Stochastic", config, history, None, 3.1e41),
        race.RegimeResult("Batch", race.RegimeConfig(10, 1.0, 1.0), history, None, math.nan),
    ]
    lines = race.summary_table(results).splitlines()
    assert {len(line) for line in lines} == {len(lines[0])}
    assert "1.00e+40" in lines[2] and "3.10e+41" in lines[2] and "nan" in lines[3]


# --- Figure titles claim only what the data shows --------------------------------------------


def regime(name, batch, full_loss, losses):
    history = make_history(losses, batch, 1000)
    return race.RegimeResult(name, race.RegimeConfig(batch, 0.0, 1e-4), history, None, full_loss)


def test_the_per_step_title_names_the_lowest_loss_not_an_assumed_winner():
    results = [
        regime("Batch", 1000, 2.14, [13.0, 2.2]),
        regime("Stochastic", 1, 1.97, [13.0, 1.8]),
        regime("Minibatch (128)", 128, 2.07, [13.0, 2.0]),
    ]
    title = race_plots.steps_title(results)
    assert "lowest: Stochastic" in title and "looks best" not in title
    results[0].full_loss = 0.5
    assert "lowest: Batch" in race_plots.steps_title(results)


def test_the_lesson_view_says_what_its_axis_cuts_off():
    losses = np.array([1.0, 16.0, 68.6, 3.0])
    assert race_plots.clipped_note(losses) == "2 of 4 losses above 15 are cut off (largest 68.6)"
    assert race_plots.clipped_note(np.array([1.0, 14.9])) is None


@pytest.mark.filterwarnings("ignore:No artists with labels")  # draw_floor is replaced
def test_every_compare_figure_is_drawn_with_the_noise_floor(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(verdict, "draw_floor", lambda ax, floor, **_: drawn.append(floor))
    dataset = load_dataset("lesson")
    results = [regime("Batch", 1000, 2.1, [13.0, 2.2]), regime("Stochastic", 1, 2.0, [13, 20])]
    for result in results:
        result.model = sg.MLP([1, 4, 1], seed=0)
    race.write_compare_figures(results, dataset, tmp_path)  # in this process: no painter
    floor = verdict.noise_floor(dataset.x_train, dataset.y_train)
    # 2 lesson figures, 2 panels of compare_steps, compare_samples, compare_time
    assert len(drawn) == 6 and all(value == pytest.approx(floor) for value in drawn)


# --- The fair race's clock -------------------------------------------------------------------


def test_the_fair_race_warms_up_and_pins_one_thread_before_any_timed_run(monkeypatch):
    import numba

    calls = []

    def fake_train_once(dataset, config, settings, *, seed, steps, **_):
        calls.append((steps, compiled.THREADS, numba.get_num_threads()))
        history = make_history(np.ones(steps))
        return race.RegimeResult("Stochastic", config, history, None, 1.0)

    monkeypatch.setattr(fair, "train_once", fake_train_once)
    monkeypatch.setattr(compiled, "THREADS", None)
    point = fair.SweepPoint("Stochastic", 1, 0.9, 1e-3, 1.0, 1.0, False)
    settings = fair.FairSettings(sizes=[1, 4, 1], steps=50, seeds=[0, 1], engine="compiled")
    threads_before = numba.get_num_threads()
    runs, interrupted = fair.race(None, {"Stochastic": point}, settings)
    assert not interrupted and len(runs["Stochastic"]) == 2
    assert [steps for steps, _, _ in calls] == [fair.WARM_UP_STEPS, 50, 50]  # warm-up first
    assert all(threads == 1 and numba_threads == 1 for _, threads, numba_threads in calls)
    assert compiled.THREADS is None and numba.get_num_threads() == threads_before  # restored
    note = fair.clock_note(settings)
    assert "THREADS = 1" in note and "one-time costs" in note and "warm-up" in note
