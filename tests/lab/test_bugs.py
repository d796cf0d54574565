"""scratch_gd/lab/bugs.py and `gradcheck --bug`: every classic mistake is caught, then undone."""

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.cli import exit_codes
from scratch_gd.cli.main import main
from scratch_gd.lab.bugs import BUGS, injected
from scratch_gd.reference import linear, loss, relu
from scratch_gd.reference.gradcheck import DEFAULT_TOLERANCE, gradcheck

EVERY_TENSOR = ["input x", "weight1", "bias1", "weight2", "bias2", "weight3", "bias3"]
# Which tensors of the lesson's 1-32-32-1 network each bug breaks, and why (see bugs.py).
FAILING = {
    "no-relu-mask": ["input x", "weight1", "bias1", "weight2", "bias2"],  # all below a ReLU
    "bias-not-summed": ["bias1", "bias2", "bias3"],  # no other gradient uses the bias's
    "mse-no-2": EVERY_TENSOR,
    "mse-sum-not-mean": EVERY_TENSOR,
    "weight-grad-transposed": ["weight2"],  # the only weight that is not a vector
}
CORRECT = {
    (linear, "linear_backward"): linear.linear_backward,
    (relu, "relu_backward"): relu.relu_backward,
    (loss, "mse_backward"): loss.mse_backward,
}


def assert_restored():
    for (module, name), function in CORRECT.items():
        assert getattr(module, name) is function, f"{module.__name__}.{name} was left patched"


def test_every_named_bug_has_its_expectations_here():
    assert set(BUGS) == set(FAILING)


@pytest.mark.parametrize("name", sorted(FAILING))
def test_the_default_run_of_each_bug_fails_naming_exactly_the_broken_tensors(name, capsys):
    code = main(["gradcheck", "--bug", name, "--backend", "numpy"])
    out = capsys.readouterr().out
    assert code == exit_codes.CHECK_FAILED, out
    verdict = next(line for line in out.splitlines() if line.startswith("FAIL"))
    named = verdict.split("finite differences on ")[1].split(", ")
    assert named == FAILING[name]
    assert_restored()


def test_the_right_code_passes_on_the_same_run(capsys):
    assert main(["gradcheck", "--backend", "numpy"]) == exit_codes.OK
    assert "bug slipped in" not in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_the_loss_bugs_give_the_predicted_ratios(backend):
    model = sg.MLP([1, 8, 8, 1], dtype="float64", seed=1, backend=backend)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((10, 1)), rng.standard_normal((10, 1))
    with injected(BUGS["mse-no-2"]):
        halved = gradcheck(model, x, y)
    with injected(BUGS["mse-sum-not-mean"]):
        summed = gradcheck(model, x, y)
    outputs = summed.samples_used  # one output per sample: the sum is M = N times the mean
    for row in halved.rows:
        assert row.relative_error == pytest.approx(1 / 3, abs=1e-6), row.name
    for row in summed.rows:
        assert row.relative_error == pytest.approx((outputs - 1) / (outputs + 1), abs=1e-6)
    assert_restored()


def test_a_square_network_shows_the_transpose_in_every_weight():
    model = sg.MLP([4, 4, 4], dtype="float64", seed=0, backend="numpy")
    rng = np.random.default_rng(2)
    with injected(BUGS["weight-grad-transposed"]):
        report = gradcheck(model, rng.standard_normal((6, 4)), rng.standard_normal((6, 4)))
    failing = {row.name for row in report.rows if row.relative_error > 1e-6}
    assert failing == {"weight1", "weight2"}


def test_the_correct_function_comes_back_even_when_the_block_fails():
    with pytest.raises(RuntimeError, match="boom"), injected(BUGS["no-relu-mask"]):
        assert relu.relu_backward is BUGS["no-relu-mask"].replacement
        raise RuntimeError("boom")
    assert_restored()


def test_bug_list_names_each_bug_with_its_explanation(capsys):
    assert main(["gradcheck", "--bug", "list"]) == exit_codes.OK
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(BUGS)
    for line, bug in zip(lines, BUGS.values(), strict=True):
        assert line.split()[0] == bug.name and line.endswith(bug.explanation)


@pytest.mark.parametrize(
    ("flags", "why"),
    [
        (["--bug", "bias-not-summed", "--batch", "1"], "one sample"),
        (["--bug", "weight-grad-transposed", "--sizes", "1,32,1"], "single row or column"),
        (["--bug", "no-relu-mask", "--sizes", "3,2"], "no hidden layer"),
        (["--bug", "mse-sum-not-mean", "--batch", "1"], "one squared error"),
        (["--bug", "no-such-bug"], "invalid choice"),
    ],
)
def test_a_bug_that_cannot_show_is_a_usage_error_not_a_pass(flags, why, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["gradcheck", *flags])
    assert stop.value.code == exit_codes.USAGE
    err = capsys.readouterr().err
    assert why in err and len(err.strip().splitlines()) == 1


def test_each_bug_fails_on_another_seed_and_batch_too():
    model = sg.MLP([1, 16, 16, 1], dtype="float64", seed=7, backend="numpy")
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((5, 1)), rng.standard_normal((5, 1))
    for bug in BUGS.values():
        with injected(bug):
            report = gradcheck(model, x, y)
        assert not report.passed(DEFAULT_TOLERANCE["float64"]), bug.name
    assert gradcheck(model, x, y).passed(DEFAULT_TOLERANCE["float64"])
