"""Ctrl-C and files: an interrupted run still writes complete results, exit code 130, and
never leaves half a file or touches files it did not write."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from matplotlib.image import imread

from scratch_gd.cli import exit_codes
from scratch_gd.store.files import atomic_write, atomic_write_text

UNRELATED = "my_notes.txt"


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic_write (".<name>.<random>.tmp") still lying around."""
    return [path.name for path in folder.iterdir() if path.name.endswith(".tmp")]


def read_all(stream, chunks: list[bytes]) -> None:
    """Collect a pipe's bytes as they come (a progress bar writes no newlines to wait for)."""
    while chunk := os.read(stream.fileno(), 4096):
        chunks.append(chunk)


def as_shown(text: str) -> list[str]:
    """The lines a terminal ends up showing: a carriage return lets a progress bar redraw
    (or, with leave=False, erase) its line, so only what follows the last one stays."""
    return [line.rsplit("\r", 1)[-1].strip() for line in text.split("\n")]


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``compare`` with far too many steps, sent SIGINT once training is under way."""
    out = tmp_path_factory.mktemp("interrupted")
    (out / UNRELATED).write_text("written by the user, not by scratch_gd\n")
    command = [
        sys.executable, "-m", "scratch_gd", "compare", "--steps", "2000000", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "MPLBACKEND": "Agg"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # A shell starts background jobs with Ctrl-C ignored, and children inherit that;
        # give the run the default handling, as a terminal would. (No threads run here.)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    readers = [
        threading.Thread(target=read_all, args=(process.stdout, stdout), daemon=True),
        threading.Thread(target=read_all, args=(process.stderr, stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        # Under way = the progress bar has counted finished steps of the first regime.
        deadline = time.monotonic() + 120
        while not re.search(rb"\b[1-9]\d*/2000000\b", b"".join(stderr)):
            assert time.monotonic() < deadline, b"".join(stderr).decode()
            assert process.poll() is None, b"".join(stderr).decode()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for reader in readers:
        reader.join(timeout=10)
    result = subprocess.CompletedProcess(
        command, process.returncode, b"".join(stdout).decode(), b"".join(stderr).decode()
    )
    return result, out


def test_ctrl_c_exits_130_with_one_line(interrupted_run):
    result, _ = interrupted_run
    assert result.returncode == exit_codes.INTERRUPTED, result.stderr
    shown = [line for line in as_shown(result.stderr) if line]
    assert len(shown) == 1, shown
    assert re.fullmatch(r"Batch: interrupted at step \d+; writing what was computed", shown[0])
    assert "Traceback" not in result.stderr


def test_ctrl_c_still_writes_complete_figures_and_records(interrupted_run):
    result, out = interrupted_run
    figures = sorted(out.glob("*.png"))
    assert len(figures) >= 4, result.stdout
    for figure in figures:
        image = imread(figure)  # fails on a truncated PNG
        assert image.shape[0] > 100 and image.shape[1] > 100, figure.name
    record = json.loads((out / "compare.json").read_text())  # complete, valid JSON
    assert record  # the run recorded itself
    interrupted = [line for line in result.stdout.splitlines() if line.startswith("Batch")]
    assert interrupted, result.stdout  # the summary row of the regime that was cut short


def test_ctrl_c_leaves_no_temporary_files(interrupted_run):
    _, out = interrupted_run
    assert leftovers(out) == []


def test_a_run_keeps_files_it_did_not_write(interrupted_run):
    _, out = interrupted_run
    assert (out / UNRELATED).read_text() == "written by the user, not by scratch_gd\n"


# --- atomic_write: the old file or the new one, never half of either --------------------------


def test_ctrl_c_between_two_regimes_keeps_the_regimes_that_finished(tmp_path, monkeypatch):
    """A stop outside a regime's training loop (drawing its data, measuring its final
    loss) ends the race there, and the regimes already run are still written."""
    from scratch_gd.cli.commands import compare
    from scratch_gd.cli.main import main

    real = compare.run_regime
    calls = []

    def second_is_interrupted(config, *args, **kwargs):
        calls.append(config)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(config, *args, **kwargs)

    monkeypatch.setattr(compare, "run_regime", second_is_interrupted)
    monkeypatch.setenv("SCRATCH_GD_FIGURE_WORKERS", "0")
    argv = ["compare", "--steps", "20", "--n", "200", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == exit_codes.INTERRUPTED
    assert len(calls) == 2  # the third regime never started
    record = json.loads((tmp_path / "compare.json").read_text())
    assert [regime["name"] for regime in record["config"]["regimes"]] == ["Batch"]
    assert list(record["results"]) == ["Batch"]
    assert (tmp_path / "compare_steps.png").exists()


def test_ctrl_c_before_any_regime_finished_writes_nothing(tmp_path, monkeypatch, capsys):
    from scratch_gd.cli.commands import compare
    from scratch_gd.cli.main import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "run_regime", interrupted)
    out = tmp_path / "out"
    assert main(["compare", "--steps", "20", "--out", str(out)]) == exit_codes.INTERRUPTED
    assert "nothing written" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


def test_atomic_write_replaces_the_whole_file(tmp_path):
    path = atomic_write_text(tmp_path / "table.csv", "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    atomic_write_text(path, "ü,β\n")
    assert path.read_text(encoding="utf-8") == "ü,β\n"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_cleans_up(tmp_path, failure):
    path = atomic_write_text(tmp_path / "figure.png", "the old, complete figure")

    def write_half(file):
        file.write(b"the first half of a new fig")
        raise failure

    with pytest.raises(type(failure)):
        atomic_write(path, write_half)
    assert path.read_text() == "the old, complete figure"
    assert leftovers(tmp_path) == []


def test_written_files_get_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    fresh = atomic_write_text(tmp_path / "new.json", "{}")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    kept = tmp_path / "shared.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    atomic_write_text(kept, "{}")
    assert kept.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its permissions
