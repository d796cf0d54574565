"""Faults around a run (issue 11): full or read-only disks, signals, closed pipes, oversized
values, warnings. Each test states one promise of docs/robustness.md.

Disk faults are simulated in-process by making the OS calls of ``store.files`` fail the
way a full or read-only file system does; signals and closed pipes are real, in a child
process, because the interpreter's own handling is what is under test.
"""

import errno
import json
import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from scratch_gd.cli import arguments as arguments_module
from scratch_gd.cli import exit_codes, finish
from scratch_gd.cli.arguments import SEED_RANGE, seed
from scratch_gd.cli.commands import all_commands
from scratch_gd.cli.main import build_parser, main
from scratch_gd.lab import race
from scratch_gd.store import files

ROOT = Path(__file__).resolve().parents[2]
# The smallest real compare: 2 regimes, 64 samples, 3 steps.
TINY = ["--n", "64", "--steps", "3", "--batch-sizes", "all,8", "--momenta", "0,0", "--no-progress"]


def temporaries(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.endswith(".tmp")]


@pytest.fixture
def no_rendering(monkeypatch):
    """The figures are one fake PNG, written the real way (atomically): fast, and a disk
    fault still hits it."""

    def figures(results, dataset, out, painter=None, jobs=None):
        return [files.atomic_write(out / "compare_steps.png", lambda f: f.write(b"png"))]

    monkeypatch.setattr(race, "write_compare_figures", figures)


# --- I/O failures: exit 4, one line naming the path and the cause, records kept, no temp ------


@pytest.mark.parametrize(
    ("code", "cause"), [(errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only file system")]
)
def test_a_disk_that_fills_up_at_the_figures_keeps_the_records(
    tmp_path, monkeypatch, capsys, no_rendering, code, cause
):
    real_fsync = files.os.fsync

    def fsync(descriptor):  # the records fit; the first figure does not
        if ".png." in os.readlink(f"/proc/self/fd/{descriptor}"):
            raise OSError(code, os.strerror(code))
        real_fsync(descriptor)

    monkeypatch.setattr(files.os, "fsync", fsync)
    out = tmp_path / "out"
    assert main(["compare", *TINY, "--out", str(out)]) == exit_codes.IO_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(out / "compare_steps.png") in err and cause in err
    assert json.loads((out / "compare.json").read_text())["command"] == "compare"
    assert (out / "compare_history.csv").exists()
    assert temporaries(tmp_path) == []


def test_a_folder_that_turns_read_only_mid_run_is_one_line_and_exit_4(
    tmp_path, monkeypatch, capsys, no_rendering
):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    out = tmp_path / "out"
    from scratch_gd.cli.commands import compare

    real_run_regime = compare.run_regime

    def train_then_lock(*args, **kwargs):  # the folder was writable at the start
        result = real_run_regime(*args, **kwargs)
        monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
        return result

    monkeypatch.setattr(compare, "run_regime", train_then_lock)
    assert main(["compare", *TINY, "--out", str(out)]) == exit_codes.IO_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Read-only" in err and str(out) in err, err
    assert "Traceback" not in err and temporaries(tmp_path) == []


def test_a_folder_deleted_mid_run_is_one_line_and_exit_4(tmp_path, monkeypatch, capsys):
    from scratch_gd.cli.commands import compare

    real_run_regime = compare.run_regime
    out = tmp_path / "out"

    def train_then_delete(*args, **kwargs):
        result = real_run_regime(*args, **kwargs)
        if out.exists():
            out.rmdir()
        return result

    monkeypatch.setattr(compare, "run_regime", train_then_delete)
    assert main(["compare", *TINY, "--out", str(out)]) == exit_codes.IO_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No such file or directory" in err, err
    assert str(out / "compare.json") in err


# --- Signals: SIGTERM and SIGHUP like Ctrl-C, exit 128 + N, files whole ------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_during_training_writes_what_was_computed_and_exits_128_plus_n(
    tmp_path, signum
):
    out = tmp_path / "out"
    # Long enough that the signal lands during training. No timing: the progress bar on
    # stderr says when steps are being taken; the signal goes then.
    command = [sys.executable, "-m", "scratch_gd", "compare", "--steps", "1000000", "--n", "64",
               "--batch-sizes", "all", "--momenta", "0", "--out", str(out)]  # fmt: skip
    child = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip
    seen = b""
    while not re.search(rb"\| *[1-9][0-9]*/1000000", seen):
        chunk = os.read(child.stderr.fileno(), 4096)
        assert chunk, seen.decode(errors="replace")
        seen += chunk
    child.send_signal(signum)
    err = (seen + child.stderr.read()).decode(errors="replace")
    child.wait(timeout=120)
    assert child.returncode == 128 + signum, err
    assert "Traceback" not in err
    record = json.loads((out / "compare.json").read_text())  # whole, valid JSON
    assert record["runs"]["Batch"]["interrupted"] is True
    assert (out / "compare_history.csv").exists() and (out / "compare_fits.png").exists()
    assert temporaries(tmp_path) == []


SIGNAL_MID_WRITE = """
import os, signal, sys
from scratch_gd.lab import race
from scratch_gd.store import files

def figures(results, dataset, out, painter=None, jobs=None):
    def write(file):
        file.write(b"half a png")
        os.kill(os.getpid(), signal.SIG{name})  # lands in the middle of the file
        file.write(b"the other half")
    return [files.atomic_write(out / "compare_steps.png", write)]

race.write_compare_figures = figures
from scratch_gd.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("name", ["TERM", "HUP"])
def test_a_stop_signal_in_the_middle_of_a_file_discards_it_and_keeps_the_records(tmp_path, name):
    out = tmp_path / "out"
    child = subprocess.run(
        [sys.executable, "-c", SIGNAL_MID_WRITE.replace("{name}", name), "compare", *TINY,
         "--out", str(out)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert child.returncode == 128 + getattr(signal, f"SIG{name}"), child.stderr
    assert child.stderr.strip() == f"scratch_gd compare: interrupted (SIG{name})"
    assert temporaries(tmp_path) == [] and not (out / "compare_steps.png").exists()
    assert json.loads((out / "compare.json").read_text())["figures"] == []


def test_sighup_in_process_stops_training_like_ctrl_c():
    with finish.stop_signals():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGHUP)  # the handler runs at once, in this thread
        assert finish.stop_code() == 128 + signal.SIGHUP


def test_a_signal_while_the_records_are_written_waits_until_they_are_whole(
    tmp_path, monkeypatch, capsys
):
    real = finish.write_run_record

    def signalled_midway(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # lands between the table and the JSON
        return real(*args, **kwargs)

    monkeypatch.setattr(finish, "write_run_record", signalled_midway)
    drawn = []
    with finish.stop_signals():
        code = finish.finish(
            tmp_path,
            "demo",
            {"x": 1},
            seed=0,
            timings={},
            tables={"demo.csv": "a\n1\n"},
            figures=lambda: drawn.append(1) or [],
        )
    assert code == 128 + signal.SIGTERM
    assert json.loads((tmp_path / "demo.json").read_text())["command"] == "demo"
    assert (tmp_path / "demo.csv").read_text() == "a\n1\n"
    assert drawn == []  # stopped: no figures started after the records
    assert "SIGTERM received" in capsys.readouterr().err


def test_the_next_run_removes_temporary_files_a_killed_run_left(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".gradcheck.json.x7k2m9qa.tmp"  # what SIGKILL mid-write leaves
    stale.write_text("{half")
    assert main(["gradcheck", "--sizes", "2,3,1", "--batch", "2", "--out", str(out)]) == 0
    assert not stale.exists() and temporaries(tmp_path) == []
    assert "removed .gradcheck.json.x7k2m9qa.tmp" in capsys.readouterr().out


# --- A closed stdout: no traceback, the files still written ------------------------------------


def test_a_closed_pipe_on_stdout_loses_nothing(tmp_path):
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-m", "scratch_gd", "compare", *TINY, "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    child.stdout.readline()  # like `| head -1`: read one line, then go away
    child.stdout.close()
    err = child.stderr.read().decode()
    child.wait(timeout=120)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert child.returncode == exit_codes.OK, err
    assert (out / "compare.json").exists() and (out / "compare_fits.png").exists()


# --- Values that pass one check and crash later: ranges first, memory up front -----------------


@pytest.mark.parametrize("value", [2**32, 1_733_088_000_123_456_789, 10**40])
def test_a_seed_of_any_size_runs_and_maps_the_same_way_every_time(tmp_path, capsys, value):
    assert seed(str(value)) == seed(str(value)) < SEED_RANGE
    assert seed("7") == 7  # small seeds are used as given
    out = tmp_path / "out"
    assert main(["gradcheck", "--sizes", "2,3,1", "--batch", "2", "--seed", str(value)]) == 0
    assert main(["compare", *TINY, "--seed", str(value), "--out", str(out)]) == 0
    assert json.loads((out / "compare.json").read_text())["seed"] == seed(str(value))
    capsys.readouterr()


HUGE = str(10**20)
OVERSIZED = [
    ["compare", "--steps", HUGE],
    ["compare", "--n", HUGE],
    ["compare", "--hidden", HUGE],
    ["compare", "--hidden", f"32,{HUGE}"],
    ["compare", "--fair", "--seeds", HUGE],
    ["compare", "--fair", "--sweep-steps", HUGE],
    ["compare", "--lr", "1e39"],
    ["noise", "--draws", HUGE],
    ["noise", "--train-steps", HUGE],
    ["lr-grid", "--steps", HUGE],
    ["momentum", "--steps", HUGE],
    ["momentum", "--momenta", "1.5"],
    ["sweep-batch", "--max-steps", HUGE],
    ["gradcheck", "--batch", HUGE],
]


@pytest.mark.parametrize("argv", OVERSIZED, ids=" ".join)
def test_an_oversized_value_is_refused_before_any_work(tmp_path, capsys, argv):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(out)])
    assert exit_info.value.code == exit_codes.USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error: argument" in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["compare", "--steps", "2000000000"], "--steps"),
        (["compare", "--n", "2000000000"], "--n"),
        (["compare", "--hidden", "100000,100000"], "--hidden"),
        (["compare", "--fair", "--seeds", "2000000000"], "--steps"),  # histories of each seed
        (["noise", "--draws", "2000000000"], "--draws"),
        (["lr-grid", "--steps", "2000000000"], "--steps"),
        (["momentum", "--steps", "2000000000"], "--steps"),
        (["sweep-batch", "--max-steps", "2000000000"], "--steps"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_a_request_that_cannot_fit_in_memory_is_refused_with_the_size_it_needs(
    tmp_path, monkeypatch, capsys, argv, flag
):
    monkeypatch.setattr(arguments_module, "memory_bytes", lambda: 2**30)  # a 1 GiB machine
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(out), "--no-progress"])
    assert exit_info.value.code == exit_codes.USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "GiB of memory" in err and "1.0 GiB" in err, err
    assert f"argument {flag}: " in err and f"lower {flag}" in err  # the flag to lower
    assert not out.exists()


# --- Warnings: one line of ours, or none --------------------------------------------------------


def test_many_warnings_of_one_kind_are_one_line(monkeypatch, capsys):
    from scratch_gd.cli.commands import compare

    def overflowing(args, parser):
        for line in range(6):  # what a plot of data beyond float32 printed: 6 places, 6 lines
            warnings.warn_explicit(
                "overflow encountered in multiply", RuntimeWarning, "transforms.py", line
            )
        return exit_codes.OK

    monkeypatch.setattr(compare, "run", overflowing)
    assert main(["compare"]) == exit_codes.OK
    err = capsys.readouterr().err
    assert err == "scratch_gd: warning: overflow encountered in multiply\n"


def test_an_lr_beyond_float32_is_a_usage_error_not_warnings(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--lr", "1e39"])
    assert exit_info.value.code == exit_codes.USAGE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "float32" in err and "warning" not in err


# --- momentum: m > 1 refused, divergence exits 3 -------------------------------------------------


def test_momentum_above_one_is_refused_with_the_reason(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["momentum", "--momenta", "0.9,1.5"])
    assert exit_info.value.code == exit_codes.USAGE
    err = capsys.readouterr().err
    assert "'1.5' is not a momentum" in err and "grows without bound" in err


def test_momentum_exits_3_when_a_run_diverges(tmp_path, capsys, monkeypatch):
    from scratch_gd.lab import momentum

    monkeypatch.setattr(momentum, "momentum_figure", lambda runs, path, subtitle="": path)
    argv = ["momentum", "--momenta", "0,0.5", "--lr", "1e4", "--steps", "20", "--n", "64",
            "--no-progress", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == exit_codes.DIVERGED
    err = capsys.readouterr().err
    assert "momentum 0 diverged at step" in err
    assert (tmp_path / "momentum.json").exists() and (tmp_path / "momentum.csv").exists()


# --- --help and default folders ------------------------------------------------------------------


@pytest.mark.parametrize("command", [command.NAME for command in all_commands()])
def test_help_shows_every_flags_default(command):
    _, subparsers = build_parser()
    parser = subparsers[command]
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        shown = formatter._get_help_string(action) % {"default": action.default}
        assert "default" in shown, f"{command} {action.option_strings[0]}: {shown!r}"


def test_compare_help_says_what_each_preset_sets():
    _, subparsers = build_parser()
    text = " ".join(subparsers["compare"].format_help().split())
    assert "modern: lr 0.001, batch sizes all,1,128, momenta 0.9,0.9,0.9" in text
    assert "lesson: lr 0.0001" in text


@pytest.mark.parametrize(
    "command",
    # gradcheck writes on request; trace prints and writes nothing
    [c.NAME for c in all_commands() if c.NAME not in ("gradcheck", "trace")],
)
def test_every_command_writes_under_runs_not_the_tracked_plots_folder(command):
    _, subparsers = build_parser()
    parser = subparsers[command]
    args = parser.parse_args([])
    assert args.out is None
    folder = arguments_module.default_output(parser)
    assert folder == Path("runs") / command
    assert "runs/" in (ROOT / ".gitignore").read_text().split()


def test_compare_without_out_writes_to_runs_compare(tmp_path, monkeypatch, capsys, no_rendering):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", *TINY]) == exit_codes.OK
    assert (tmp_path / "runs" / "compare" / "compare.json").exists()
    assert not (tmp_path / "plots").exists()
    capsys.readouterr()


def test_data_beyond_float32_gets_one_warning_of_ours_and_no_numpy_ones(tmp_path, capsys):
    csv = tmp_path / "far.csv"
    csv.write_text("a,y\n" + "".join(f"{k}e39,{k % 3}\n" for k in range(1, 11)))
    argv = ["compare", "--data", str(csv), "--target", "y", "--steps", "3", "--batch-sizes",
            "all", "--momenta", "0", "--no-progress", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == exit_codes.OK
    err = capsys.readouterr().err.strip()
    assert err.startswith("scratch_gd: warning:") and len(err.splitlines()) == 1, err
    assert "beyond float32's range" in err and "overflow" not in err


def test_the_robustness_page_names_only_tests_that_exist():
    page = (ROOT / "docs" / "robustness.md").read_text()
    named = set(re.findall(r"`(test_\w+)`", page))
    defined = {
        name
        for path in (ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(), re.MULTILINE)
    }
    assert len(named) > 20 and named <= defined, sorted(named - defined)


def test_a_stderr_closed_before_start_does_not_stop_the_progress_bar(
    tmp_path, monkeypatch, capsys, no_rendering
):
    monkeypatch.setattr(sys, "stderr", None)  # what `2>&-` gives Python
    out = tmp_path / "out"
    argv = ["compare", "--n", "64", "--steps", "3", "--batch-sizes", "all", "--momenta", "0"]
    assert main([*argv, "--out", str(out)]) == exit_codes.OK  # the bar is on
    assert (out / "compare.json").exists() and sys.stderr is None
    capsys.readouterr()


def test_momentum_interrupted_writes_the_runs_that_finished(tmp_path, monkeypatch, capsys):
    from scratch_gd.lab import momentum

    real = momentum.run_momentum
    calls = []

    def stopped_on_the_second(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(result)
        result.history.interrupted = len(calls) == 2  # as Ctrl-C/SIGTERM mid-run leaves it
        return result

    monkeypatch.setattr(momentum, "run_momentum", stopped_on_the_second)
    monkeypatch.setattr(momentum, "momentum_figure", lambda runs, path, subtitle="": path)
    argv = ["momentum", "--momenta", "0,0.5,0.9", "--steps", "10", "--n", "64",
            "--no-progress", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == exit_codes.INTERRUPTED
    record = json.loads((tmp_path / "momentum.json").read_text())
    assert list(record["results"]) == ["momentum 0"]
    assert "writing the 1 run(s) that finished" in capsys.readouterr().err
