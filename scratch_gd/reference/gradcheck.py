"""Check hand-written backprop against central finite differences.

For a scalar loss L(theta), the central difference
    (L(theta + eps) - L(theta - eps)) / (2 eps)
matches dL/dtheta up to an O(eps^2) truncation error plus an O(machine_eps * |L| / eps)
rounding error. For this network the truncation error is zero: with ReLU's on/off pattern
fixed, the output is an affine function of any single weight, bias or input entry (each
appears once in the product of layers), so the mean squared error is a quadratic in it, and
a central difference of a quadratic is exact. Only rounding is left, and it *shrinks* as eps
grows, which is why float32 can use a much larger eps than textbooks suggest.

The catch is ReLU's kink at 0. If nudging an entry by eps flips some unit on or off, the
difference quotient straddles two slopes and is simply wrong. So every nudge is watched: a
sample whose on/off pattern changes during any nudge is left out, counted, and the check is
run again without it. A larger eps flips more units, so it leaves out more samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .loss import MSELoss
from .mlp import MLP
from .relu import ReLU

# Defaults per dtype, from the measurements in docs/debugging.md (re-run them with
# `python -m scratch_gd gradcheck --dtype D --eps E --seed S`). Rounding leaves an error of
# about machine_eps * |L| / eps; a gradient off by a factor of 2 scores 1/3. float64 with
# eps 1e-6 leaves 1e-9 to 9e-9 on the lesson's network (seeds 0-9), over 100 times below
# its tolerance. float32 rounds 1e9 times more coarsely, so it takes a larger eps (which
# flips more ReLUs) and a looser tolerance: 9e-4 to 4e-3 there, still far from 1/3.
DEFAULT_EPS = {"float64": 1e-6, "float32": 1e-3}
DEFAULT_TOLERANCE = {"float64": 1e-6, "float32": 1e-2}


class AllSamplesSkipped(ValueError):
    """Every sample was left out near a ReLU kink, so nothing is left to check on."""


@dataclass
class GradcheckRow:
    """One tensor's verdict: backprop's gradient against the finite-difference one."""

    name: str
    shape: tuple[int, ...]
    relative_error: float  # ||analytic - numeric|| / (||analytic|| + ||numeric||)
    max_abs_error: float
    grad_norm: float = math.nan  # ||analytic||: a relative error of a tiny gradient means little
    worst_at: tuple[int, ...] = ()  # the entry where |analytic - numeric| is largest


@dataclass
class GradcheckReport:
    rows: list[GradcheckRow]
    samples_used: int
    samples_skipped: int  # a nudge flipped one of their ReLUs (or they were within a margin)
    dtype: str = "float64"
    eps: float = DEFAULT_EPS["float64"]
    loss: float = math.nan  # the loss at the point checked, over the samples used

    @property
    def worst_row(self) -> GradcheckRow:
        return max(self.rows, key=lambda row: row.relative_error)

    @property
    def worst(self) -> float:
        return self.worst_row.relative_error

    def passed(self, tolerance: float) -> bool:
        return self.worst < tolerance


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0


def away_from_kinks(model: MLP, x: np.ndarray, kink_margin: float) -> np.ndarray:
    """Boolean mask of the samples whose every hidden pre-activation is >= kink_margin from 0."""
    keep = np.ones(len(x), dtype=bool)
    activation = x
    for linear in model.linears[:-1]:
        pre = activation @ linear.weight.data.T + linear.bias.data
        keep &= np.all(np.abs(pre) >= kink_margin, axis=1)
        activation = np.maximum(pre, 0)
    return keep


def forward_with_pattern(model: MLP, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The output (N, out) and which hidden units are on: (N, total hidden units) booleans."""
    pattern = []
    for layer in model.layers:
        x = layer(x)
        if isinstance(layer, ReLU):
            pattern.append(x > 0)
    return x, np.concatenate(pattern, axis=1) if pattern else np.ones((len(x), 0), bool)


def numeric_gradient(loss_of: Callable[[], float], array: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of ``loss_of()`` with respect to every entry of ``array``.

    ``original + eps`` is rounded to the array's dtype, so the quotient divides by the step
    actually taken; in float32 that differs from 2 eps in the fourth digit or so.
    """
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)  # views: writes reach ``array``
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus, loss_plus = float(flat[i]), loss_of()
        flat[i] = original - eps
        minus, loss_minus = float(flat[i]), loss_of()
        flat[i] = original
        if plus == minus:
            raise ValueError(
                f"eps {eps:g} is below the spacing of {array.dtype} numbers near "
                f"{float(original):g}, so the nudge vanishes; use a larger eps"
            )
        flat_grad[i] = (loss_plus - loss_minus) / (plus - minus)
    return grad


def _compare(
    model: MLP, x: np.ndarray, y: np.ndarray, eps: float
) -> tuple[list[GradcheckRow], float, np.ndarray]:
    """Backprop against central differences on (x, y): the rows, the loss, and which samples
    had a ReLU flip on or off during some nudge (their differences straddle a kink)."""
    loss_fn = MSELoss()
    model.zero_grad()
    out, base_pattern = forward_with_pattern(model, x)
    loss = loss_fn(out, y)
    grad_x = model.backward(loss_fn.backward())
    flipped = np.zeros(len(x), dtype=bool)

    def loss_of() -> float:
        out, pattern = forward_with_pattern(model, x)
        # Each pre-activation is affine in the nudged entry while no unit before it flips, so
        # the same on/off pattern at both ends of a nudge means no kink was crossed between.
        flipped[np.any(pattern != base_pattern, axis=1)] = True
        return loss_fn(out, y)

    targets = [("input x", x, grad_x)]
    for number, linear in enumerate(model.linears, start=1):
        targets.append((f"weight{number}", linear.weight.data, linear.weight.grad.copy()))
        targets.append((f"bias{number}", linear.bias.data, linear.bias.grad.copy()))
    rows = []
    for name, array, analytic in targets:
        analytic = analytic.astype(np.float64)
        numeric = numeric_gradient(loss_of, array, eps).astype(np.float64)
        gap = np.abs(analytic - numeric)
        rows.append(
            GradcheckRow(
                name,
                array.shape,
                relative_error(analytic, numeric),
                float(np.max(gap)),
                grad_norm=float(np.linalg.norm(analytic)),
                worst_at=tuple(int(i) for i in np.unravel_index(np.argmax(gap), gap.shape)),
            )
        )
    return rows, loss, flipped


def gradcheck(
    model: MLP,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float | None = None,
    kink_margin: float | None = None,
) -> GradcheckReport:
    """Compare ``model.backward`` with central differences for every parameter and the input.

    ``eps`` defaults to ``DEFAULT_EPS`` for the model's dtype. With ``kink_margin=None`` the
    samples that had a ReLU flip during some nudge are dropped and the check is run once
    more without them (a sample's on/off pattern depends only on that sample, so the second
    run flips nothing). A number instead drops, up front, the samples with a pre-activation
    closer than that to 0, and does not watch the nudges: 0 keeps every sample, to show what
    kinks do to the check. Raises AllSamplesSkipped (a ValueError) when no sample is left.
    """
    eps = DEFAULT_EPS[model.dtype.name] if eps is None else float(eps)
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite number above 0, got {eps}")
    x = np.ascontiguousarray(x, dtype=model.dtype)
    y = np.ascontiguousarray(y, dtype=model.dtype)
    keep = away_from_kinks(model, x, 0.0 if kink_margin is None else kink_margin)

    def check_kept() -> tuple[list[GradcheckRow], float, np.ndarray]:
        if not keep.any() and kink_margin is not None:
            raise AllSamplesSkipped(
                f"all {len(keep)} samples have a pre-activation within {kink_margin:g} of 0; "
                "use a smaller kink margin or more samples"
            )
        if not keep.any():
            raise AllSamplesSkipped(
                f"all {len(keep)} samples lie near a ReLU kink for eps {eps:g}; "
                "use a smaller eps or more samples"
            )
        return _compare(model, x[keep], y[keep], eps)

    rows, loss, flipped = check_kept()
    if kink_margin is None and flipped.any():
        keep[np.flatnonzero(keep)[flipped]] = False
        rows, loss, _ = check_kept()
    return GradcheckReport(
        rows,
        samples_used=int(keep.sum()),
        samples_skipped=int((~keep).sum()),
        dtype=model.dtype.name,
        eps=eps,
        loss=loss,
    )
