"""scratch_gd/lesson.py: the lesson's script on scratch_gd is the library's own loop."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd import lesson

REGIMES = {"Batch": (1000, 1.0), "Stochastic": (1, 0.0), "Minibatch": (128, 1.0)}


@pytest.mark.filterwarnings("ignore:momentum=1.0")
def test_each_regime_is_the_reference_training_loop_step_for_step(tmp_path):
    losses = lesson.main(["--out", str(tmp_path), "--steps", "6"])
    assert list(losses) == list(REGIMES)
    x, y = sg.lesson_data()
    for name, (batch_size, momentum) in REGIMES.items():
        model = sg.MLP([1, 32, 32, 1])
        optimizer = sg.SGD(model.parameters(), lr=1e-4, momentum=momentum)
        expected = sg.train_loop(model, optimizer, x, y, batch_size=batch_size, steps=6, seed=0)
        np.testing.assert_allclose(losses[name], expected, rtol=1e-6, err_msg=name)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "Batch.png",
        "Minibatch.png",
        "Stochastic.png",
    ]


def test_the_script_is_at_most_80_lines_and_has_the_explicit_loop():
    source = Path(lesson.__file__).read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 80
    loop = ["optimizer.zero_grad()", "model(xb)", "model.backward(", "optimizer.step()"]
    positions = [source.index(step) for step in loop]
    assert positions == sorted(positions)


@pytest.mark.filterwarnings("ignore:momentum=1.0")
def test_it_runs_as_a_module_and_writes_only_its_figures(tmp_path, monkeypatch):
    # `python -m scratch_gd.lesson --steps 2`, in-process (a new interpreter costs seconds)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["lesson", "--steps", "2"])
    monkeypatch.delitem(sys.modules, "scratch_gd.lesson")  # as a fresh `python -m` would
    runpy.run_module("scratch_gd.lesson", run_name="__main__")
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [f"runs/lesson/{name}.png" for name in ("Batch", "Minibatch", "Stochastic")]


def test_a_bad_step_count_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        lesson.main(["--steps", "0"])
    assert stop.value.code == 2
    assert "--steps: 0 must be at least 1" in capsys.readouterr().err
