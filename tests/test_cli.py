"""`python -m scratch_gd compare` end to end, on a tiny setting."""

import json  # noqa: F401  (kept for later record checks)
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from scratch_gd.cli import main

FIGURES = [
    "lesson_batch.png",
    "lesson_stochastic.png",
    "lesson_minibatch16.png",
    "compare_steps.png",
    "compare_samples.png",
    "compare_time.png",
    "compare_fits.png",
]


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


def test_summary_reports_samples_and_epochs_honestly(tmp_path, capsys):
    code = main(["compare", "--steps", "30", "--n", "60", "--batch-sizes", "all,4",
                 "--momenta", "0,0", "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    batch_row = next(line for line in out.splitlines() if line.startswith("Batch"))
    assert "1800" in batch_row.split()  # 30 steps x 60 samples
    mini_row = next(line for line in out.splitlines() if line.startswith("Minibatch"))
    assert "120" in mini_row.split() and "2.00" in mini_row.split()  # 30 x 4 = 2 epochs


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--steps", "0"], ["--steps", "at least 1"]),
        (["--steps", "ten"], ["--steps", "not a whole number"]),
        (["--lr", "-1"], ["--lr", "above 0"]),
        (["--lr", "nan"], ["--lr", "finite"]),
        (["--batch-sizes", "0,1"], ["--batch-sizes", ">= 1"]),
        (["--batch-sizes", "5000"], ["--batch-sizes", "larger than the data", "'all'"]),
        (["--momenta", "-1,0,0"], ["--momenta", ">= 0"]),
        (["--momenta", "0,0"], ["--momenta", "one momentum per batch size"]),
        (["--preset", "fancy"], ["--preset", "invalid choice"]),
        (["--dtype", "float16"], ["--dtype", "invalid choice"]),
    ],
)
def test_bad_flags_get_one_clear_line_and_exit_code_2(flags, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--no-progress", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err
