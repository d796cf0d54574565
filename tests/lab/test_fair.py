"""The fair race: the sweep's choice, the seeds' bands, and `compare --fair` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from scratch_gd.cli.main import main
from scratch_gd.lab import fair
from scratch_gd.lab.race import FULL_LOSS, RegimeConfig, RegimeResult
from scratch_gd.run.history import Evaluation, History
from scratch_gd.store.datasets import load_dataset
from scratch_gd.store.record import read_history_csv

# --- The numbers, on made-up runs ------------------------------------------------------------


def point(regime: str, lr: float, tail: float, diverged: bool = False) -> fair.SweepPoint:
    return fair.SweepPoint(regime, 4, 0.9, lr, tail, tail, diverged)


def test_the_sweep_chooses_the_lowest_loss_among_runs_that_did_not_diverge() -> None:
    points = [
        point("Batch", 1e-3, 2.0),
        point("Batch", 1e-2, 1.5),
        point("Batch", 1e-1, math.inf, diverged=True),
        point("Stochastic", 1e-3, 3.0),
        point("Stochastic", 1e-2, 4.0),
    ]
    chosen = fair.choose_learning_rates(points)
    assert chosen["Batch"].lr == 1e-2 and chosen["Stochastic"].lr == 1e-3
    assert fair.at_grid_edge(points, chosen["Stochastic"]) == "smallest"
    assert fair.at_grid_edge(points, chosen["Batch"]) is None  # 0.1 was tried above it
    table = fair.sweep_table(points, chosen)
    assert table.count("<- chosen") == 2
    assert "diverged" in table.splitlines()[4]


def test_no_stable_learning_rate_names_the_regime_and_the_fix() -> None:
    points = [point("Stochastic", lr, math.inf, diverged=True) for lr in (1.0, 10.0)]
    with pytest.raises(fair.NoStableLearningRate, match=r"Stochastic \(tried 1, 10\).*--lrs"):
        fair.choose_learning_rates(points)


def fake_result(seed_losses: list[float], every: int = 10, batch: int = 5) -> RegimeResult:
    """A run whose evaluations report ``seed_losses`` at steps 0, every, 2 every, ..."""
    steps = every * (len(seed_losses) - 1)
    history = History(np.ones(steps), np.arange(1, steps + 1) * batch, np.ones(steps), batch, 50,
                      "lesson", "layers")  # fmt: skip
    history.evaluations = [
        Evaluation(k * every, k * every * batch, 0.01 * k, {FULL_LOSS: loss})
        for k, loss in enumerate(seed_losses)
    ]
    if len(seed_losses) < 4:
        history.diverged_at = steps
    return RegimeResult("Minibatch (5)", RegimeConfig(batch, 0.9, 0.1), history, None, 1.0)


def test_curve_takes_median_and_range_over_the_seeds_that_got_that_far() -> None:
    results = [
        fake_result([9.0, 4.0, 2.0, 1.0]),
        fake_result([9.0, 6.0, 3.0, 2.0]),
        fake_result([9.0, 5.0, math.nan]),  # this seed overflowed at its third evaluation
    ]
    curve = fair.curve(results)
    np.testing.assert_array_equal(curve.steps, [0, 10, 20, 30])
    np.testing.assert_array_equal(curve.samples_seen, [0, 50, 100, 150])
    np.testing.assert_array_equal(curve.median[FULL_LOSS], [9.0, 5.0, 3.0, 1.5])
    np.testing.assert_array_equal(curve.low[FULL_LOSS], [9.0, 4.0, 2.0, 1.0])
    # The overflow counts as infinitely bad, not as missing; the seed that stopped is absent.
    np.testing.assert_array_equal(curve.high[FULL_LOSS], [9.0, 6.0, np.inf, 2.0])
    np.testing.assert_array_equal(curve.seeds_reporting, [3, 3, 3, 2])
    assert fair.loss_within(curve, "samples", 120) == 3.0  # last evaluation within: 100
    assert fair.loss_within(curve, "steps", 9) == 9.0  # only the start fits


def test_a_sweep_run_is_judged_by_the_mean_of_its_last_fifth() -> None:
    # Evaluations at steps 0, 10, ..., 50 of a 50-step run: the last fifth is steps 40 and 50.
    noisy_end = fake_result([9.0, 5.0, 3.0, 2.0, 1.0, 4.0])
    assert fair.tail_loss(noisy_end, steps=50) == pytest.approx(2.5)


def test_final_losses_count_a_diverged_seed_as_infinitely_bad() -> None:
    finished, diverged = fake_result([9.0, 4.0, 2.0, 1.0]), fake_result([9.0, 5.0, 7.0])
    np.testing.assert_array_equal(fair.final_losses([finished, diverged]), [1.0, np.inf])


# --- Real runs, tiny ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_race() -> fair.FairResult:
    dataset = load_dataset("lesson", n=60)
    settings = fair.FairSettings(
        sizes=[1, 8, 1], steps=30, seeds=[0, 1], sweep_seed=2, lrs=[1e-3, 1e-2, 1e4], eval_every=10
    )
    return fair.run_fair(dataset, [(60, 0.9), (1, 0.9), (6, 0.9)], settings)


def test_a_learning_rate_that_blows_up_is_swept_out(tiny_race: fair.FairResult) -> None:
    huge = [p for p in tiny_race.sweep if p.lr == 1e4]
    assert len(huge) == 3 and all(p.diverged and p.tail_loss == math.inf for p in huge)
    assert all(p.lr != 1e4 for p in tiny_race.chosen.values())
    assert len(tiny_race.sweep) == 9


def test_every_regime_starts_from_the_same_weights_within_a_seed(tiny_race) -> None:
    starts = {
        regime: [r.history.evaluations[0].metrics[FULL_LOSS] for r in results]
        for regime, results in tiny_race.runs.items()
    }
    first = starts["Batch"]
    assert starts["Stochastic"] == first and starts["Minibatch (6)"] == first
    assert first[0] != first[1]  # but each seed is a different draw of initial weights


def test_race_runs_every_seed_at_the_chosen_rate(tiny_race) -> None:
    stats = fair.statistics(tiny_race)
    for regime, results in tiny_race.runs.items():
        assert [r.config.lr for r in results] == [tiny_race.chosen[regime].lr] * 2
        assert [r.history.steps for r in results] == [30, 30]
        assert [e.step for e in results[0].history.evaluations] == [0, 10, 20, 30]
        entry = stats[regime]
        np.testing.assert_array_equal(entry["final_full_loss"], [r.full_loss for r in results])
        assert entry["min_final_full_loss"] <= entry["median_final_full_loss"]
        assert entry["median_final_full_loss"] <= entry["max_final_full_loss"]
    assert stats["Batch"]["samples_seen"] == 30 * 60
    budgets = fair.equal_budgets(tiny_race)
    assert budgets["samples"]["budget"] == 30 and budgets["samples"]["set_by"] == "Stochastic"
    assert budgets["steps"]["loss"]["Batch"] == pytest.approx(
        np.median([r.full_loss for r in tiny_race.runs["Batch"]])
    )


def test_ctrl_c_between_two_runs_keeps_the_seeds_every_regime_finished(monkeypatch) -> None:
    """A stop outside a run's training loop (say, while its final loss is measured) ends
    the race; the seeds that every regime finished are still the result."""
    dataset = load_dataset("lesson", n=60)
    settings = fair.FairSettings(
        sizes=[1, 4, 1], steps=10, seeds=[0, 1, 2], sweep_seed=3, lrs=[1e-3], eval_every=5
    )
    chosen = {"Batch": fair.SweepPoint("Batch", 60, 0.9, 1e-3, 1.0, 1.0, False),
              "Stochastic": fair.SweepPoint("Stochastic", 1, 0.9, 1e-3, 1.0, 1.0, False)}  # fmt: skip
    real, calls = fair.train_once, []

    def interrupted_in_seed_1(dataset, config, settings, *, seed, steps, **kwargs):
        calls.append(seed)
        if seed == 1 and len([c for c in calls if c == 1]) == 2:  # seed 1's second regime
            raise KeyboardInterrupt
        return real(dataset, config, settings, seed=seed, steps=steps, **kwargs)

    monkeypatch.setattr(fair, "train_once", interrupted_in_seed_1)
    runs, interrupted = fair.race(dataset, chosen, settings)
    assert interrupted
    assert {regime: [r.history.steps for r in results] for regime, results in runs.items()} == {
        "Batch": [10],
        "Stochastic": [10],
    }


# --- The command ---------------------------------------------------------------------------------


def assert_png(path: Path) -> None:
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300, path.name
    assert np.std(image) > 0.01, f"{path.name} is blank"


def test_compare_fair_writes_figures_and_a_record_with_every_number(tmp_path, capsys) -> None:
    code = main(["compare", "--fair", "--n", "60", "--steps", "20", "--seeds", "2",
                 "--lrs", "1e-3,1e-2,1e4", "--eval-every", "5", "--hidden", "8",
                 "--batch-sizes", "all,1,6", "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("<- chosen") == 3
    assert "At equal cost" in out

    record = json.loads((tmp_path / "compare_fair.json").read_text())
    assert record["command"] == "compare_fair"
    settings = record["config"]["settings"]
    assert settings["seeds"] == [0, 1] and settings["sweep_seed"] == 2
    assert settings["lrs"] == [1e-3, 1e-2, 1e4] and settings["sizes"] == [1, 8, 1]
    results = record["results"]
    assert len(results["sweep"]) == 9
    assert all(p["diverged"] and p["tail_loss"] is None for p in results["sweep"] if p["lr"] == 1e4)
    regimes = ["Batch", "Stochastic", "Minibatch (6)"]
    assert list(results["chosen_lr"]) == regimes
    assert all(lr in (1e-3, 1e-2) for lr in results["chosen_lr"].values())

    evaluations = read_history_csv(tmp_path / "compare_fair_evaluations.csv")
    steps = read_history_csv(tmp_path / "compare_fair_history.csv")
    runs = [f"{regime} seed {seed}" for regime in regimes for seed in (0, 1)]
    assert sorted(steps) == sorted(runs) and sorted(evaluations) == sorted(runs)
    for regime in regimes:
        entry = results["regimes"][regime]
        assert entry["lr"] == results["chosen_lr"][regime]
        assert len(entry["final_full_loss"]) == 2
        for seed, final in zip((0, 1), entry["final_full_loss"], strict=True):
            table = evaluations[f"{regime} seed {seed}"]
            np.testing.assert_array_equal(table["step"], [0, 5, 10, 15, 20])
            assert table[FULL_LOSS][-1] == pytest.approx(final)  # the JSON and CSV agree
            assert np.all(np.diff(table["seconds"]) >= 0)
            assert len(steps[f"{regime} seed {seed}"]["loss"]) == 20
    assert results["regimes"]["Batch"]["samples_seen"] == 20 * 60

    figures = ["fair_steps.png", "fair_samples.png", "fair_seconds.png", "fair_sweep.png"]
    assert record["figures"] == figures
    for name in figures:
        assert_png(tmp_path / name)


def test_compare_fair_on_a_csv_reports_validation_loss(tmp_path, capsys) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2))
    rows = [f"{a:.5f},{b:.5f},{a - 2 * b + 0.1 * e:.5f}" for (a, b), e in zip(x, rng.normal(size=40),
                                                                             strict=True)]  # fmt: skip
    data = tmp_path / "pairs.csv"
    data.write_text("a,b,target\n" + "\n".join(rows) + "\n")
    out = tmp_path / "plots"
    code = main(["compare", "--fair", "--data", str(data), "--target", "target",
                 "--steps", "10", "--seeds", "2", "--lrs", "1e-2,1e-1", "--batch-sizes", "all,4",
                 "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    assert "validation (median)" in capsys.readouterr().out
    record = json.loads((out / "compare_fair.json").read_text())
    assert record["config"]["data"]["n_validation"] == 8  # a fifth of 40 held out
    for entry in record["results"]["regimes"].values():
        assert len(entry["final_validation_loss"]) == 2
        assert entry["median_final_validation_loss"] > 0
    evaluations = read_history_csv(out / "compare_fair_evaluations.csv")
    assert all(np.all(np.isfinite(table["validation_loss"])) for table in evaluations.values())
    assert_png(out / "fair_steps.png")


def test_compare_fair_when_every_rate_diverges(tmp_path, capsys) -> None:
    code = main(["compare", "--fair", "--n", "30", "--steps", "10", "--seeds", "1",
                 "--lrs", "1e4,1e5", "--batch-sizes", "all", "--out", str(tmp_path),
                 "--no-progress"])  # fmt: skip
    assert code == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "every learning rate diverged for Batch" in err and "--lrs" in err
    record = json.loads((tmp_path / "compare_fair.json").read_text())
    assert "every learning rate diverged" in record["results"]["error"]
    assert [p["diverged"] for p in record["results"]["sweep"]] == [True, True]
