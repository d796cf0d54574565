"""scratch_gd/lab/trace.py and `python -m scratch_gd trace`: one pass, every step checked."""

import re

import numpy as np
import pytest

import scratch_gd as sg
from scratch_gd.cli import exit_codes
from scratch_gd.cli.main import main
from scratch_gd.lab.bugs import BUGS, injected
from scratch_gd.lab.trace import trace_pass, trace_text

ROW = re.compile(r"^\s+(dL/d.*?)(?: = .*?)?\s+(\([\d, ]*\))\s+(\S+)\s+(\S+)")


def rows(text: str) -> list[tuple[str, str, float, float]]:
    """(label, shape, norm, relative error) of every gradient line printed."""
    found = []
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            label, shape, norm, error = match.groups()
            found.append((label.strip(), shape, float(norm), float(error)))
    return found


def test_the_default_trace_exits_0_and_every_gradient_agrees(capsys):
    assert main(["trace"]) == exit_codes.OK
    out = capsys.readouterr().out
    printed = rows(out)
    shapes = {
        label: shape for label, shape, _, _ in printed if "weight" in label or "bias" in label
    }
    assert shapes == {
        "dL/d weight1": "(32, 1)",
        "dL/d weight2": "(32, 32)",
        "dL/d weight3": "(1, 32)",
        "dL/d bias1": "(32,)",
        "dL/d bias2": "(32,)",
        "dL/d bias3": "(1,)",
    }
    # the loss gradient; then arriving, weight, bias, leaving for each Linear and
    # arriving, leaving for each ReLU
    assert len(printed) == 1 + 3 * 4 + 2 * 2
    assert all(error < 1e-6 for *_, error in printed)
    assert "FORWARD" in out and "BACKWARD" in out and "dead units" in out


def test_the_trace_is_the_same_pass_as_the_model_itself():
    trace = trace_pass([1, 32, 32, 1], batch=6, seed=3)
    model = sg.MLP([1, 32, 32, 1], dtype="float64", seed=3, backend="numpy")
    x, _ = sg.lesson_data(dtype="float64")
    np.testing.assert_array_equal(trace.x, x[trace.indices])
    loss_fn = sg.MSELoss()
    assert len(trace.indices) == 6
    hidden = model.layers[1](model.layers[0](trace.x))  # the first ReLU's output
    out = hidden
    for layer in model.layers[2:]:
        out = layer(out)
    assert trace.loss == pytest.approx(loss_fn(out, trace.y), rel=1e-12)
    model.backward(loss_fn.backward())
    norms = {t.label: t.norm for step in trace.steps for t in step.gradients}
    for number, linear in enumerate(model.linears, start=1):
        assert norms[f"dL/d weight{number}"] == pytest.approx(np.linalg.norm(linear.weight.grad))
        assert norms[f"dL/d bias{number}"] == pytest.approx(np.linalg.norm(linear.bias.grad))
    # dead units: ReLU outputs that are 0 for every sample of the batch
    first_relu = trace.steps[1]
    assert first_relu.dead_units == int(np.all(hidden <= 0, axis=0).sum())
    assert first_relu.masked_entries == int(np.sum(hidden <= 0))


def test_what_arrives_at_a_layer_is_what_left_the_one_above():
    trace = trace_pass([1, 8, 8, 1], batch=4, seed=1)
    above = trace.loss_gradient
    for step in reversed(trace.steps):
        arriving, leaving = step.gradients[0], step.gradients[-1]
        assert (arriving.shape, arriving.norm) == (above.shape, above.norm)
        assert leaving.shape == step.in_shape
        above = leaving


def test_a_broken_backward_shows_in_the_trace_where_it_is():
    with injected(BUGS["no-relu-mask"]):
        trace = trace_pass([1, 32, 32, 1], batch=4, seed=0)
    relu = trace.steps[3]  # the last ReLU: its dL/d(input) is the first wrong tensor
    assert relu.gradients[-1].relative_error > 0.01
    assert trace.steps[4].gradients[-1].relative_error < 1e-6  # the layer above is still right
    assert "above 1e-06" in trace_text(trace).splitlines()[-1]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sizes", "2,8,1"], "start and end with 1"),
        (["--batch", "1001"], "at most 1000"),
        (["--sizes", "1,3000,3000,1"], "trace is for small networks"),
        (["--batch", "0"], "must be at least 1"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(flags, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["trace", *flags])
    assert stop.value.code == exit_codes.USAGE
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_trace_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["trace", "--sizes", "1,4,1", "--batch", "2"]) == exit_codes.OK
    assert list(tmp_path.iterdir()) == []


def test_a_difference_across_a_relu_kink_is_marked_not_trusted():
    from scratch_gd.lab.trace import _checked

    def relu_sum(pre):
        def loss_of():
            out, _ = sg.relu_forward(pre)
            return float(out.sum()), out > 0

        return loss_of

    analytic = np.array([[1.0, 1.0]])  # ReLU's slope where both units are on
    at_kink = np.array([[1e-9, 2.0]])  # the first unit sits right at ReLU's kink
    assert _checked("dL/d pre", "", analytic, at_kink, relu_sum(at_kink)).crossed_kink
    away = np.array([[1.0, 2.0]])
    smooth = _checked("dL/d pre", "", analytic, away, relu_sum(away))
    assert not smooth.crossed_kink and smooth.relative_error < 1e-9
