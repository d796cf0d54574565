"""`python -m scratch_gd gradcheck`, and the parts of scratch_gd.reference.gradcheck it exposes."""

import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.cli import exit_codes
from scratch_gd.cli.main import main
from scratch_gd.reference import linear, loss
from scratch_gd.reference.gradcheck import (
    DEFAULT_TOLERANCE,
    gradcheck,
    numeric_gradient,
)

ROW = re.compile(r"^(\S+(?: x)?)\s+(\([\d, ]*\))\s+(\S+)\s+(\S+)\s+(\S+)\s+(\(.*\))$")


def table_rows(stdout: str) -> dict[str, dict]:
    """The per-tensor rows of the printed table, by tensor name."""
    rows = {}
    for line in stdout.splitlines():
        match = ROW.match(line)
        if match:
            name, shape, grad_norm, rel, max_abs, _ = match.groups()
            rows[name] = dict(
                shape=shape, grad_norm=float(grad_norm), rel=float(rel), max_abs=float(max_abs)
            )
    return rows


def skip_counts(stdout: str) -> tuple[int, int]:
    match = re.search(r"(\d+) samples used, (\d+) skipped", stdout)
    assert match, stdout
    return int(match.group(1)), int(match.group(2))


def run_cli(capsys, *flags: str) -> tuple[int, str]:
    code = main(["gradcheck", *flags])
    return code, capsys.readouterr().out


def test_table_has_every_tensor_with_its_shape_and_a_pass_verdict(capsys):
    code, out = run_cli(capsys, "--sizes", "2,5,3", "--batch", "6", "--seed", "3")
    assert code == exit_codes.OK
    rows = table_rows(out)
    used, skipped = skip_counts(out)
    assert used + skipped == 6 and used > 0
    assert {name: row["shape"] for name, row in rows.items()} == {
        "input x": f"({used}, 2)",
        "weight1": "(5, 2)",
        "bias1": "(5,)",
        "weight2": "(3, 5)",
        "bias2": "(3,)",
    }
    worst = max(rows.values(), key=lambda row: row["rel"])
    assert 0 < worst["rel"] < DEFAULT_TOLERANCE["float64"]
    assert all(row["grad_norm"] > 0 for row in rows.values())
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith("PASS") and f"{worst['rel']:.2e}" in verdict


def test_a_broken_bias_gradient_fails_and_the_table_points_at_the_biases(monkeypatch, capsys):
    """Halve every bias gradient: exit code 1, and only the bias rows are wrong."""
    correct = linear.linear_backward

    def half_bias_gradient(*args):
        grad_x, grad_weight, grad_bias = correct(*args)
        return grad_x, grad_weight, grad_bias / 2

    monkeypatch.setattr(linear, "linear_backward", half_bias_gradient)
    code, out = run_cli(capsys, "--sizes", "3,6,2", "--batch", "8", "--backend", "numpy")
    assert code == exit_codes.CHECK_FAILED
    assert out.strip().splitlines()[-1].startswith("FAIL")
    rows = table_rows(out)
    # grad/2 against grad: |g/2 - g| / (|g/2| + |g|) = 1/3 for the last layer's bias
    assert rows["bias2"]["rel"] == pytest.approx(1 / 3, abs=1e-3)
    assert rows["bias1"]["rel"] > 1e-2
    assert rows["weight2"]["rel"] < 1e-6  # the last weight's gradient does not use a bias grad


def test_a_broken_loss_gradient_fails_on_the_numba_backend_too(monkeypatch, capsys):
    monkeypatch.setattr(loss, "mse_backward", lambda cache: cache / cache.size)
    code, out = run_cli(capsys, "--sizes", "1,8,1", "--batch", "5")
    assert code == exit_codes.CHECK_FAILED
    # Forgetting the 2 in 2(out - y)/N makes every gradient half size: error 1/3 everywhere.
    for row in table_rows(out).values():
        assert row["rel"] == pytest.approx(1 / 3, abs=1e-3)


def test_float32_uses_its_own_eps_and_tolerance_and_passes(capsys):
    code, out = run_cli(capsys, "--dtype", "float32", "--sizes", "1,16,16,1", "--batch", "8")
    assert code == exit_codes.OK
    assert "float32" in out and "eps 0.001" in out and "tolerance 0.01" in out
    worst = max(row["rel"] for row in table_rows(out).values())
    assert 1e-6 < worst < 1e-2  # float32 rounding shows, but stays below its tolerance


def test_a_tolerance_below_the_rounding_error_fails(capsys):
    code, out = run_cli(capsys, "--sizes", "1,4,1", "--batch", "4", "--tolerance", "1e-14")
    assert code == exit_codes.CHECK_FAILED
    assert "FAIL" in out and "tolerance 1e-14" in out


def test_without_watching_for_kinks_a_large_eps_breaks_the_check(capsys):
    """--kink-margin 0 uses every sample; with eps 1e-3 some nudges flip a ReLU."""
    flags = ("--sizes", "1,32,32,1", "--batch", "16", "--eps", "1e-3")
    code_blind, out_blind = run_cli(capsys, *flags, "--kink-margin", "0")
    code_watching, out_watching = run_cli(capsys, *flags)
    assert skip_counts(out_blind) == (16, 0)
    assert code_blind == exit_codes.CHECK_FAILED
    worst_blind = max(row["rel"] for row in table_rows(out_blind).values())
    assert worst_blind > 1e-3
    assert code_watching == exit_codes.OK
    assert skip_counts(out_watching)[1] > 0
    # No truncation error for this network: away from kinks a large eps is *more* accurate.
    assert max(row["rel"] for row in table_rows(out_watching).values()) < 1e-9


def test_out_writes_the_table_as_csv_and_a_json_record(tmp_path, capsys):
    code, out = run_cli(
        capsys, "--sizes", "2,4,1", "--batch", "5", "--seed", "7", "--out", str(tmp_path)
    )
    assert code == exit_codes.OK
    printed = table_rows(out)
    with open(tmp_path / "gradcheck.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["tensor"] for row in rows] == list(printed)
    assert {row["tensor"]: row["shape"] for row in rows}["weight1"] == "4x2"
    for row in rows:
        assert float(row["relative_error"]) == pytest.approx(printed[row["tensor"]]["rel"], 0.01)
    record = json.loads((tmp_path / "gradcheck.json").read_text())
    assert record["command"] == "gradcheck" and record["seed"] == 7
    assert record["config"]["sizes"] == [2, 4, 1] and record["config"]["eps"] == 1e-6
    results = record["results"]
    assert results["passed"] is True
    assert results["worst_relative_error"] == max(float(row["relative_error"]) for row in rows)
    assert results["samples_used"] + results["samples_skipped"] == 5


def test_nothing_is_written_without_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _ = run_cli(capsys, "--sizes", "1,3,1", "--batch", "3")
    assert code == exit_codes.OK
    assert list(tmp_path.iterdir()) == []


def test_module_entry_point_exit_code(tmp_path):
    command = [sys.executable, "-m", "scratch_gd", "gradcheck", "--sizes", "1,4,1", "--batch",
               "4", "--tolerance", "1e-14"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == exit_codes.CHECK_FAILED, result.stderr
    assert "FAIL" in result.stdout and result.stderr == ""


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--sizes", "1"], ["--sizes", "at least an input and an output"]),
        (["--sizes", "1,0,1"], ["--sizes", "at least 1"]),
        (["--sizes", "1,x,1"], ["--sizes", "not a whole number"]),
        (["--sizes", "1,3000,3000,1"], ["--sizes", "small networks"]),
        (["--batch", "0"], ["--batch", "at least 1"]),
        (["--seed", "-1"], ["--seed", "0 or more"]),
        (["--eps", "0"], ["--eps", "above 0"]),
        (["--eps", "nan"], ["--eps", "finite"]),
        (["--tolerance", "-1"], ["--tolerance", "above 0"]),
        (["--kink-margin", "-0.1"], ["--kink-margin", ">= 0"]),
        (["--dtype", "float16"], ["--dtype", "invalid choice"]),
        (["--backend", "cuda"], ["--backend", "invalid choice"]),
        (["--dtype", "float32", "--eps", "1e-12"], ["--eps", "nudge vanishes"]),
        (["--eps", "10", "--batch", "3"], ["--eps", "all 3 samples", "smaller eps", "--batch"]),
        (["--kink-margin", "100", "--batch", "3"], ["--kink-margin", "within 100 of 0"]),
    ],
)
def test_bad_flags_get_one_clear_line_and_exit_code_2(flags, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["gradcheck", "--sizes", "1,4,1", *flags])
    assert exit_info.value.code == exit_codes.USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert word in err


# --- the function behind the command ---------------------------------------------------------


def test_the_step_actually_taken_makes_float32_differences_of_a_quadratic_exact():
    """0.3 + 1e-3 is not exact in float32; dividing by 2 eps would be off by ~1e-5."""
    value = np.array([0.3], dtype=np.float32)

    def loss_of() -> float:
        return float(np.float64(value[0]) ** 2)

    numeric = numeric_gradient(loss_of, value, 1e-3)
    exact = 2 * np.float64(value[0])
    assert abs(numeric[0] - exact) / exact < 1e-6
    assert value[0] == np.float32(0.3)  # the nudged entry is put back


def test_a_sample_beside_a_kink_is_skipped_and_would_otherwise_spoil_the_check():
    model = sg.MLP([1, 4, 1], dtype=np.float64, seed=0)
    first = model.linears[0]
    weight, bias = first.weight.data[0, 0], first.bias.data[0]
    kink_x = -bias / weight
    # 1e-8 from unit 0's kink: a nudge of 1e-6 to its weight or bias flips it.
    x = np.array([[kink_x + 1e-8 / weight], [kink_x + 1.0], [kink_x - 1.0]])
    y = np.zeros((3, 1))
    watched = gradcheck(model, x, y)
    blind = gradcheck(model, x, y, kink_margin=0.0)
    assert (watched.samples_used, watched.samples_skipped) == (2, 1)
    assert watched.worst < 1e-7
    assert (blind.samples_used, blind.samples_skipped) == (3, 0)
    assert blind.worst > 1e-2
    assert {row.name: row.worst_at for row in blind.rows}["weight1"] == (0, 0)  # unit 0
