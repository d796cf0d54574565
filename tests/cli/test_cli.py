"""`python -m scratch_gd compare` end to end, on a tiny setting."""

import json
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from scratch_gd.cli.main import build_parser, main
from scratch_gd.lab import race_plots as plots
from scratch_gd.store.record import read_history_csv

FIGURES = [
    "lesson_batch.png",
    "lesson_stochastic.png",
    "lesson_minibatch16.png",
    "compare_steps.png",
    "compare_samples.png",
    "compare_time.png",
    "compare_fits.png",
]


@pytest.fixture
def unrendered(monkeypatch):
    """Figures are built but not rendered (the slow part), for tests about numbers only;
    the end-to-end test renders and checks every one."""

    def png_bytes(fig):
        plots.plt.close(fig)
        return b"not rendered"

    monkeypatch.setattr(plots, "png_bytes", png_bytes)


def test_compare_runs_end_to_end_and_writes_every_figure(tmp_path):
    command = [
        sys.executable, "-m", "scratch_gd", "compare", "--steps", "40", "--n", "100",
        "--batch-sizes", "100,1,16", "--momenta", "0.9,0,0.9", "--lr", "1e-3",
        "--out", str(tmp_path), "--no-progress",
    ]  # fmt: skip
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for regime in ("Batch", "Stochastic", "Minibatch (16)"):
        assert regime in result.stdout
    assert "samples seen" in result.stdout
    for name in FIGURES:
        image = imread(tmp_path / name)
        assert image.shape[0] > 200 and image.shape[1] > 300, name
        assert np.std(image) > 0.01, f"{name} is blank"


def test_compare_records_its_config_and_every_step(tmp_path, capsys, unrendered):
    code = main(["compare", "--steps", "25", "--n", "80", "--batch-sizes", "all,8",
                 "--momenta", "0.5,0.9", "--lr", "2e-3", "--hidden", "16", "--seed", "3",
                 "--weight-decay", "0.01", "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "compare.json").read_text())
    assert record["command"] == "compare" and record["seed"] == 3
    config = record["config"]
    assert config["sizes"] == [1, 16, 1]
    assert config["steps"] == 25
    assert config["sgd_options"] == {"dampening": 0.0, "weight_decay": 0.01, "nesterov": False}
    assert [(r["batch_size"], r["momentum"], r["lr"]) for r in config["regimes"]] == [
        (80, 0.5, 2e-3),
        (8, 0.9, 2e-3),
    ]
    assert config["data"]["n_train"] == 80 and config["data"]["n_validation"] == 0
    assert set(record["figures"]) >= {"compare_steps.png", "compare_fits.png"}
    assert record["timings"]["train_seconds"] > 0
    # The per-step history gives back the exact losses the summary table printed.
    steps = read_history_csv(tmp_path / "compare_history.csv")
    assert list(steps) == ["Batch", "Minibatch (8)"]
    for run, history in steps.items():
        np.testing.assert_array_equal(history["step"], np.arange(25))
        assert history["samples_seen"][-1] == 25 * (80 if run == "Batch" else 8)
        row = next(line for line in out.splitlines() if line.startswith(run.split()[0]))
        assert f"{history['loss'][-1]:.4f}" in row.split()
        assert record["results"][run]["full_loss"] > 0
    # Lesson data has no validation split, so nothing was evaluated along the way.
    assert not (tmp_path / "compare_evaluations.csv").exists()


def test_summary_reports_samples_and_epochs_honestly(tmp_path, capsys, unrendered):
    code = main(["compare", "--steps", "30", "--n", "60", "--batch-sizes", "all,4",
                 "--momenta", "0,0", "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    batch_row = next(line for line in out.splitlines() if line.startswith("Batch"))
    assert "1800" in batch_row.split()  # 30 steps x 60 samples
    mini_row = next(line for line in out.splitlines() if line.startswith("Minibatch"))
    assert "120" in mini_row.split() and "2.00" in mini_row.split()  # 30 x 4 = 2 epochs


def test_default_minibatch_shrinks_to_small_data(tmp_path, capsys, unrendered):
    # The preset's batch of 128 does not fit 50 samples: it becomes the full batch, once.
    code = main(["compare", "--steps", "5", "--n", "50", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "listed twice" in out
    record = json.loads((tmp_path / "compare.json").read_text())
    assert [r["batch_size"] for r in record["config"]["regimes"]] == [50, 1]


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--steps", "0"], ["--steps", "at least 1"]),
        (["--steps", "ten"], ["--steps", "not a whole number"]),
        (["--lr", "-1"], ["--lr", "above 0"]),
        (["--lr", "nan"], ["--lr", "finite"]),
        (["--batch-sizes", "0,1"], ["--batch-sizes", ">= 1"]),
        (["--batch-sizes", "5000"], ["--batch-sizes", "larger than the training data", "'all'"]),
        (["--momenta", "-1,0,0"], ["--momenta", ">= 0"]),
        (["--momenta", "0,0"], ["--momenta", "one momentum per batch size"]),
        (["--preset", "fancy"], ["--preset", "invalid choice"]),
        (["--dtype", "float16"], ["--dtype", "invalid choice"]),
        (["--hidden", "32,0"], ["--hidden", "whole number >= 1"]),
        (["--hidden", "wide"], ["--hidden", "whole number"]),
        (["--n", "0"], ["--n", "at least 1"]),
        (["--validation", "1"], ["--validation", "0 <= F < 1"]),
        (["--data", "diabetes", "--n", "50"], ["--n", "drop --n"]),
        (["--target", "y"], ["--target", "lesson data"]),
        (["--data", "no_such_file.csv", "--target", "y"], ["--data", "no such file"]),
        (["--nesterov", "--momenta", "0.9,0,0.9"], ["--nesterov", "momentum above 0"]),
        (["--dampening", "-0.5"], ["--dampening", ">= 0"]),
        (["--weight-decay", "x"], ["--weight-decay", "not a number"]),
        (["--seeds", "3"], ["--seeds", "add --fair"]),
        (["--lrs", "0.1"], ["--lrs", "add --fair"]),
        (["--eval-every", "5"], ["--eval-every", "add --fair"]),
        (["--sweep-steps", "5"], ["--sweep-steps", "add --fair"]),
        (["--fair", "--lr", "0.1"], ["--lr", "--lrs"]),
        (["--fair", "--preset", "modern"], ["--preset", "drop --preset"]),
        (["--fair", "--seeds", "0"], ["--seeds", "at least 1"]),
        (["--fair", "--lrs", "0.1,-1"], ["--lrs", "above 0"]),
        (["--fair", "--lrs", "0.1,fast"], ["--lrs", "not a number"]),
        (["--fair", "--steps", "10", "--eval-every", "11"], ["--eval-every", "at most 10"]),
        (["--fair", "--sweep-steps", "0"], ["--sweep-steps", "at least 1"]),
        (["--fair", "--batch-sizes", "4,4", "--momenta", "0.9,0.5"], ["appears twice"]),
        (["--fair", "--batch-sizes", "4", "--momenta", "0.9,0.5"], ["one momentum per batch"]),
    ],
)
def test_bad_flags_get_one_clear_line_and_exit_code_2(flags, words, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--no-progress", "--out", str(tmp_path), *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_the_command_line_starts_without_what_it_does_not_use():
    """Start-up is part of every run: no plotting (the figure workers load it), and no
    asyncio (which ``tqdm.auto`` would bring for its ``async for``)."""
    code = "import sys, scratch_gd.cli.main; print(sorted({'asyncio', 'matplotlib'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_running_one_command_loads_only_that_command(tmp_path):
    code = (
        "import sys; from scratch_gd.cli.main import main; "
        f"main(['compare', '--steps', '2', '--n', '20', '--no-progress', '--out', {str(tmp_path)!r}]); "
        "print(sorted(m for m in sys.modules if m.startswith('scratch_gd.cli.commands.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "['scratch_gd.cli.commands.compare']"
    assert (tmp_path / "compare.json").exists()


def test_every_command_module_is_registered_under_its_own_name():
    from scratch_gd.cli.commands import NAMES, load

    assert [load(name).NAME for name in NAMES] == list(NAMES)
    _, subparsers = build_parser()
    assert list(subparsers) == list(NAMES)
