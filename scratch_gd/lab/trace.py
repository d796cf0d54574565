"""One forward and one backward pass, written out as a learner would on paper.

``trace_pass`` runs the reference MLP (``scratch_gd/reference``, NumPy products, float64)
once forward and once backward on a few lesson samples and records every step: what each
layer receives, returns and keeps in its cache; the loss; then, going back, the gradient
dL/d(out) arriving at each layer, the parameter gradients it adds, the gradient dL/d(input)
it passes down, and how many ReLU units are dead. Every gradient is compared with central
finite differences (``reference/gradcheck.py``'s ``numeric_gradient`` and
``relative_error``): nudging one entry and re-running the rest of the network from there.
``trace_text`` lays the record out; ``python -m scratch_gd trace`` prints it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..reference.data import lesson_data
from ..reference.gradcheck import DEFAULT_EPS, DEFAULT_TOLERANCE, numeric_gradient, relative_error
from ..reference.linear import Linear, linear_forward
from ..reference.loss import MSELoss, mse_forward
from ..reference.mlp import MLP
from ..reference.relu import relu_forward
from ..reference.sampling import BatchSampler

EPS = DEFAULT_EPS["float64"]
TOLERANCE = DEFAULT_TOLERANCE["float64"]


@dataclass
class Tensor:
    """One gradient of the backward pass, with its check against finite differences."""

    label: str  # what it is, e.g. "dL/d weight3"
    formula: str  # how backprop computed it, e.g. "G.T @ x"
    shape: tuple[int, ...]
    norm: float
    relative_error: float
    crossed_kink: bool = False  # a nudge flipped a ReLU, so the difference straddles a kink


@dataclass
class Step:
    """One layer: forward (shapes and cache) and backward (the gradients through it)."""

    index: int
    name: str  # "Linear(1, 32)" or "ReLU()"
    formula: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    cache: str  # what the cache keeps, in words
    gradients: list[Tensor] = field(default_factory=list)  # arriving, parameters, leaving
    dead_units: int | None = None  # ReLU only: units at 0 for every sample of the batch
    masked_entries: int | None = None  # ReLU only: entries the mask out > 0 zeroes
    entries: int | None = None


@dataclass
class Trace:
    sizes: list[int]
    seed: int
    indices: np.ndarray  # which lesson samples make the batch
    x: np.ndarray
    y: np.ndarray
    steps: list[Step]
    loss: float
    loss_gradient: Tensor  # dL/d(out) of the whole network, where backward starts

    @property
    def tensors(self) -> list[Tensor]:
        return [self.loss_gradient] + [t for step in self.steps for t in step.gradients]

    @property
    def worst(self) -> Tensor:
        return max(self.tensors, key=lambda tensor: tensor.relative_error)


def _checked(
    label: str, formula: str, analytic: np.ndarray, array: np.ndarray, loss_of: Callable
) -> Tensor:
    """``analytic`` against central differences of ``loss_of`` nudging ``array``'s entries.

    ``loss_of`` returns the loss and the ReLU on/off pattern; a pattern that changes during
    some nudge means that difference crossed a kink, and the tensor is marked.
    """
    _, base_pattern = loss_of()
    crossed = False

    def loss_only() -> float:
        nonlocal crossed
        loss, pattern = loss_of()
        crossed |= not np.array_equal(pattern, base_pattern)
        return loss

    numeric = numeric_gradient(loss_only, array, EPS)
    return Tensor(
        label,
        formula,
        analytic.shape,
        float(np.linalg.norm(analytic)),
        relative_error(analytic, numeric),
        crossed,
    )


def trace_pass(sizes: list[int], batch: int, seed: int) -> Trace:
    """Forward and backward once through ``MLP(sizes)`` on ``batch`` lesson samples."""
    x_all, y_all = lesson_data(dtype=np.float64, seed=0)
    indices = next(BatchSampler(len(x_all), batch, seed=seed).batches(1))
    x, y = x_all[indices], y_all[indices]
    model = MLP(sizes, dtype=np.float64, seed=seed, backend="numpy")

    def loss_from(first: int, activation: np.ndarray) -> tuple[float, np.ndarray]:
        """Run layers first, first + 1, ... on ``activation`` (no caches touched)."""
        pattern = []
        for layer in model.layers[first:]:
            if isinstance(layer, Linear):
                activation, _ = linear_forward(activation, layer.weight.data, layer.bias.data)
            else:
                activation, _ = relu_forward(activation)
                pattern.append(activation > 0)
        loss, _ = mse_forward(activation, y)
        return loss, np.concatenate([p.ravel() for p in pattern]) if pattern else np.array([])

    # Forward: each layer's input is the previous one's output.
    steps, inputs = [], []
    activation = x
    for index, layer in enumerate(model.layers):
        inputs.append(activation.copy())
        out = layer(activation)
        if isinstance(layer, Linear):
            formula, cache = "out = x @ W.T + b", f"x, its input {layer.cache.shape}"
        else:
            formula, cache = "out = max(x, 0)", f"out, its output {layer.cache.shape}: mask out > 0"
        steps.append(Step(index, repr(layer), formula, activation.shape, out.shape, cache))
        activation = out
    loss_fn = MSELoss()
    loss = loss_fn(activation, y)

    # Backward: from the loss down to the input, one layer at a time.
    model.zero_grad()
    grad = loss_fn.backward()
    output = activation.copy()
    arriving = _checked(
        "dL/d(out)",
        f"2 (out - y) / {output.size}",
        grad,
        output,
        lambda: (mse_forward(output, y)[0], np.array([])),
    )
    loss_gradient = arriving
    number = len(model.linears)
    for step, layer in zip(reversed(steps), reversed(model.layers), strict=True):
        i = step.index
        # What arrives is what left the layer above (or the loss): the same tensor.
        step.gradients.append(replace(arriving, label="dL/d(out) arriving", formula=""))
        grad_in = layer.backward(grad)
        if isinstance(layer, Linear):
            whole = functools.partial(loss_from, 0, x)  # a nudged weight: run it all
            weight, bias = layer.weight, layer.bias
            step.gradients += [
                _checked(f"dL/d weight{number}", "G.T @ x", weight.grad, weight.data, whole),
                _checked(f"dL/d bias{number}", "G.sum(axis=0)", bias.grad, bias.data, whole),
            ]
            number -= 1
            formula = "G @ W"
        else:
            out = layer.cache
            dead = np.all(out <= 0, axis=0)
            step.dead_units, step.entries = int(dead.sum()), out.size
            step.masked_entries = int(np.sum(out <= 0))
            formula = "G * (out > 0)"
        here = inputs[i].copy()
        leaving = _checked(
            "dL/d(input) leaving", formula, grad_in, here, functools.partial(loss_from, i, here)
        )
        step.gradients.append(leaving)
        grad, arriving = grad_in, leaving
    return Trace(sizes, seed, indices, x, y, steps, loss, loss_gradient)


def _row(tensor: Tensor) -> str:
    error = f"{tensor.relative_error:.1e}" + (
        " (a nudge crossed a ReLU kink)" if tensor.crossed_kink else ""
    )
    what = f"{tensor.label} = {tensor.formula}" if tensor.formula else tensor.label
    return f"      {what:<38} {tensor.shape!s:<10} {tensor.norm:>10.3e}  {error}"


def _values(array: np.ndarray, shown: int = 8) -> str:
    values = " ".join(f"{v:7.3f}" for v in array.ravel()[:shown])
    return values + (" ..." if array.size > shown else "")


def trace_text(trace: Trace) -> str:
    """The trace as aligned text: forward, loss, backward, verdict."""
    architecture = "-".join(map(str, trace.sizes))
    batch = len(trace.x)
    lines = [
        (
            f"trace: one forward and one backward pass of MLP {architecture} (float64, "
            f"seed {trace.seed}) on {batch} lesson samples"
        ),
        f"  x {trace.x.shape!s:<8} {_values(trace.x)}",
        f"  y {trace.y.shape!s:<8} {_values(trace.y)}",
        "",
        "FORWARD: each layer computes its output and keeps in its cache what backward needs",
        f"  {'layer':<18} {'computes':<20} {'input':<9}    {'output':<9} cache keeps",
    ]
    for step in trace.steps:
        lines.append(
            f"  {step.index} {step.name:<16} {step.formula:<20} {step.in_shape!s:<9} -> "
            f"{step.out_shape!s:<9} {step.cache}"
        )
    lines += [
        (
            f"  loss               L = mean((out - y)^2) = {trace.loss:.6g} over "
            f"{trace.y.size} outputs; its cache keeps out - y {trace.y.shape}"
        ),
        "",
        "BACKWARD: G = dL/d(out) arrives from above; a layer adds its parameter gradients",
        "and passes dL/d(input) down, where it arrives at the layer below. |.| is the norm;",
        f"rel. err compares with central finite differences (eps {EPS:g}).",
        f"  {'':<44} {'shape':<10} {'|.|':>10}  rel. err",
        "  loss",
        _row(trace.loss_gradient),
    ]
    for step in reversed(trace.steps):
        lines.append(f"  {step.index} {step.name}")
        for tensor in step.gradients:
            if tensor.label.startswith("dL/d(input)") and step.dead_units is not None:
                lines.append(
                    f"      mask out > 0 zeroes {step.masked_entries} of {step.entries} entries"
                )
                below = (step.index + 1) // 2  # the Linear under this ReLU, counted from 1
                dead = f"dead units (0 for all {batch} samples): {step.dead_units} of "
                dead += f"{step.out_shape[1]}"
                if step.dead_units:
                    dead += f"; their rows of weight{below} and bias{below} get no gradient"
                lines.append("      " + dead)
            lines.append(_row(tensor))
    worst = trace.worst
    if worst.relative_error < TOLERANCE:
        verdict = (
            f"every gradient agrees with finite differences: worst relative error "
            f"{worst.relative_error:.1e} (tolerance {TOLERANCE:g})"
        )
    else:
        verdict = (
            f"worst relative error {worst.relative_error:.1e} ({worst.label}) is above "
            f"{TOLERANCE:g}" + ("; a nudge crossed a ReLU kink there" if worst.crossed_kink else "")
        )
    lines += ["", verdict]
    return "\n".join(lines)
