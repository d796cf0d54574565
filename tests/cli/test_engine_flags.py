"""Every training command says which code trains, and can be told: --engine and --backend.

By default the commands run the reference loop (``scratch_gd/reference/loop.py``) on the
numba matmul backend; the experiments that run hundreds of trainings default to the
compiled engine and say so on their first line. The JSON record names both.
"""

from __future__ import annotations

import json

import pytest

from scratch_gd.cli.main import main

# The smallest run of each command, and its default engine.
COMMANDS = {
    "compare": (["--n", "40", "--steps", "6"], "layers", "compare.json"),
    "momentum": (["--n", "40", "--steps", "20", "--momenta", "0,0.9"], "layers", "momentum.json"),
    "noise": (["--n", "32", "--draws", "10", "--train-steps", "5"], "layers", "noise.json"),
    "lr-grid": (["--n", "32", "--steps", "5", "--lrs", "1e-3", "--momenta", "0"], "compiled",
                "lr_grid.json"),
    "sweep-batch": (["--n", "32", "--batch-sizes", "4,all", "--lrs", "1e-3", "--target-loss",
                     "1e-6", "--max-steps", "8"], "compiled", "sweep_batch.json"),
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_first_line_and_the_record_say_which_engine_and_backend_ran(command, tmp_path, capsys):
    flags, default, record_name = COMMANDS[command]
    assert main([command, *flags, "--out", str(tmp_path), "--no-progress"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"engine: {default},") and "numba backend" in first
    config = json.loads((tmp_path / record_name).read_text())["config"]
    assert (config["engine"], config["backend"]) == (default, "numba")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_engine_and_backend_can_be_chosen(command, tmp_path, capsys):
    flags, default, record_name = COMMANDS[command]
    other = "compiled" if default == "layers" else "layers"
    argv = [command, *flags, "--engine", other, "--backend", "numpy"]
    assert main([*argv, "--out", str(tmp_path), "--no-progress"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"engine: {other},") and "numpy backend" in first
    config = json.loads((tmp_path / record_name).read_text())["config"]
    assert (config["engine"], config["backend"]) == (other, "numpy")


def test_an_unknown_engine_is_one_line_and_exit_code_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["compare", "--engine", "fast", "--out", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--engine" in err and "layers" in err
