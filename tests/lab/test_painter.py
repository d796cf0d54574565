"""The painter: figures rendered by worker processes are the figures rendered here, and
nothing is lost when a worker fails, dies, or its parent does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.lab import race
from scratch_gd.lab.painter import FigureJob, Painter, paint
from scratch_gd.run.history import History
from scratch_gd.store.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux")


def tiny_results() -> tuple[list[race.RegimeResult], object]:
    dataset = load_dataset("lesson")
    results = []
    for name, batch, losses in [("Batch", 1000, [13.0, 5.0, 2.2]), ("Stochastic", 1, [9, 20, 1])]:
        steps = np.arange(1, len(losses) + 1)
        history = History(np.array(losses, dtype=float), steps * batch, 0.01 * steps, batch,
                          1000, "lesson", "layers")  # fmt: skip
        config = race.RegimeConfig(batch, 0.0, 1e-4)
        model = sg.MLP([1, 4, 1], seed=0)
        results.append(race.RegimeResult(name, config, history, model, float(losses[-1])))
    return results, dataset


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended: only its entry is left
        return stat.read().split(")")[-1].split()[0] != "Z"


def wait_until_dead(pids: list[int], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def ready_workers(painter: Painter, seconds: float = 120.0) -> list[int]:
    """The workers' process ids, once both said they are ready (generous for a busy machine)."""
    deadline = time.monotonic() + seconds
    while len(painter._pids) < 2 and time.monotonic() < deadline:
        painter._poll(timeout=0.1)
    assert len(painter._pids) == 2, "the workers never said they were ready"
    return list(painter._pids)


def test_workers_render_the_same_bytes_as_this_process(tmp_path):
    results, dataset = tiny_results()
    jobs = race.compare_figures(results, dataset)
    for folder in ("here", "workers"):
        (tmp_path / folder).mkdir()
    here = paint(jobs, tmp_path / "here", None)
    with Painter() as painter:
        assert painter.parallel
        there = paint(jobs, tmp_path / "workers", painter)
    assert [path.name for path in here] == [path.name for path in there] == [j.file for j in jobs]
    for mine, theirs in zip(here, there, strict=True):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name
        assert mine.read_bytes().startswith(b"\x89PNG")


def test_without_workers_every_job_is_rendered_here(tmp_path):
    results, dataset = tiny_results()
    jobs = race.compare_figures(results, dataset)[:2]
    with Painter(workers=0) as painter:
        assert not painter.parallel
        paths = paint(jobs, tmp_path, painter)
    assert [path.name for path in paths] == [job.file for job in jobs]


def test_a_job_started_early_is_rendered_once():
    results, dataset = tiny_results()
    early = race.lesson_figures(results[:1], dataset)
    with Painter() as painter:
        first = painter.start(early)
        jobs = race.compare_figures(results, dataset)
        tickets = painter.start(jobs)
        assert first[0] in tickets  # the lesson figure of the first regime, not started again
        assert len(set(tickets)) == len(jobs)
        # Planned again, with what the networks predict computed again: the same figures.
        again = race.compare_figures(results, dataset)
        assert again[1].args[2][0] is not jobs[1].args[2][0]  # new prediction arrays
        assert painter.start(again) == tickets
        # A job for the same file with other data is a new job.
        other = FigureJob(early[0].file, early[0].function, (results[1],), early[0].kwargs)
        assert painter.start([other])[0] not in tickets
        # And so is one whose arrays differ in a single value.
        changed = [prediction.copy() for prediction in again[1].args[2]]
        changed[0][0] += 1
        replanned = FigureJob(again[1].file, again[1].function,
                              (*again[1].args[:2], changed), again[1].kwargs)  # fmt: skip
        assert painter.start([replanned])[0] not in tickets


def test_a_failing_figure_raises_its_own_error_here(tmp_path):
    bad = FigureJob("bad.png", "math:sqrt", (-1.0,))  # fails in the worker, and again here
    with Painter() as painter, pytest.raises(ValueError, match="math domain error"):
        paint([bad], tmp_path, painter)
    assert list(tmp_path.iterdir()) == []


def test_a_worker_killed_mid_run_loses_no_figure(tmp_path):
    results, dataset = tiny_results()
    jobs = race.compare_figures(results, dataset)
    with Painter() as painter:
        os.kill(ready_workers(painter)[0], signal.SIGKILL)
        paths = paint(jobs, tmp_path, painter)
    assert [path.name for path in paths] == [job.file for job in jobs]
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in paths)


def test_workers_that_cannot_start_leave_the_figures_to_this_process(tmp_path, monkeypatch, capfd):
    from scratch_gd.lab import race_plots

    def broken():
        raise ImportError("matplotlib is broken in the worker")

    monkeypatch.setattr(race_plots, "warm_up", broken)  # the workers inherit it
    results, dataset = tiny_results()
    jobs = race.compare_figures(results, dataset)[:2]
    with Painter() as painter:
        paths = paint(jobs, tmp_path, painter)
        assert not painter.parallel
    assert all(path.read_bytes().startswith(b"\x89PNG") for path in paths)
    assert "Traceback" not in capfd.readouterr().err  # the workers said nothing


PARENT = os.getpid()


def stuck_in_workers():
    """A figure that never comes from a worker (it sleeps there), and at once from here."""
    if os.getpid() != PARENT:
        time.sleep(3600)
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(1, 1))


def test_a_silent_worker_is_given_up_and_its_figure_drawn_here(tmp_path, monkeypatch):
    from scratch_gd.lab import painter as painter_module

    monkeypatch.setattr(painter_module, "STALL_SECONDS", 2.0)
    stuck = FigureJob("stuck.png", f"{__name__}:stuck_in_workers")
    with Painter() as painter:
        [path] = paint([stuck], tmp_path, painter)  # the worker sleeps for an hour: not waited for
        assert not painter.parallel  # given up: the rest is drawn here too
    assert path.read_bytes().startswith(b"\x89PNG")


def test_closing_ends_every_worker(tmp_path):
    painter = Painter()
    pids = ready_workers(painter)
    painter.close()
    assert wait_until_dead(pids)


KILLED_PARENT = """
import sys, time
from scratch_gd.lab.painter import Painter
painter = Painter()
while len(painter._pids) < 2:
    painter._poll(timeout=0.1)
print(*painter._pids, flush=True)
time.sleep(600)
"""


def test_workers_end_when_their_parent_is_killed_outright():
    child = subprocess.Popen([sys.executable, "-c", KILLED_PARENT], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    pids = [int(pid) for pid in child.stdout.readline().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    child.kill()
    child.wait(timeout=30)
    assert wait_until_dead(pids)


PARENT_MODULES = """
import sys
from scratch_gd.cli.main import main
code = main(sys.argv[1:])
print("matplotlib loaded here:", "matplotlib" in sys.modules)
sys.exit(code)
"""


def test_compare_never_loads_matplotlib_in_the_training_process(tmp_path):
    command = [sys.executable, "-c", PARENT_MODULES, "compare", "--n", "64", "--steps", "5",
               "--no-progress", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(
        command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "matplotlib loaded here: False" in done.stdout
    assert (tmp_path / "compare_steps.png").read_bytes().startswith(b"\x89PNG")


def test_ctrl_c_to_the_whole_terminal_group_keeps_the_records_and_the_figures(tmp_path):
    """Ctrl-C reaches the workers too; they ignore it and the parent ends the run as usual."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "scratch_gd", "compare", "--steps", "1000000", "--n", "64",
               "--batch-sizes", "all", "--momenta", "0", "--out", str(out)]  # fmt: skip
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    seen = b""
    while b"/1000000" not in seen or not seen.rstrip().endswith(b"]"):  # the bar is drawn
        chunk = os.read(child.stderr.fileno(), 4096)
        assert chunk, seen.decode(errors="replace")
        seen += chunk
    os.killpg(child.pid, signal.SIGINT)
    err = (seen + child.stderr.read()).decode(errors="replace")
    child.wait(timeout=120)
    assert child.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert (out / "compare.json").exists() and (out / "compare_history.csv").exists(), err
    for name in ("compare_steps.png", "compare_fits.png", "lesson_batch.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG"), name


@pytest.mark.parametrize(("value", "workers"), [("", 2), ("0", 0), (" 1 ", 1), ("3", 3)])
def test_the_workers_variable_says_how_many(monkeypatch, value, workers):
    from scratch_gd.lab import painter as painter_module

    monkeypatch.setenv("SCRATCH_GD_FIGURE_WORKERS", value)
    assert painter_module.figure_workers() == workers


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_bad_workers_variable_is_one_warning_naming_it_and_the_default_is_used(
    monkeypatch, value
):
    from scratch_gd.lab import painter as painter_module

    monkeypatch.setenv("SCRATCH_GD_FIGURE_WORKERS", value)
    with pytest.warns(UserWarning, match=r"SCRATCH_GD_FIGURE_WORKERS=.* is not a whole number"):
        assert painter_module.figure_workers() == 2
