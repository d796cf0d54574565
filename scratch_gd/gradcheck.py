"""Check hand-written backprop against central finite differences.

For a scalar loss L(theta), the central difference
    (L(theta + eps) - L(theta - eps)) / (2 eps)
matches dL/dtheta up to O(eps^2) truncation plus O(machine_eps / eps) rounding, so in
float64 with eps ~ 1e-6 the two agree to about 1e-9 relative: any bigger gap is a bug.

ReLU has a kink at 0. If nudging a weight pushes some pre-activation across 0, the
difference quotient straddles two slopes and is simply wrong. Samples whose
pre-activations come within ``kink_margin`` of 0 are therefore left out, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linear import Linear
from .loss import MSELoss
from .mlp import MLP


@dataclass
class GradcheckRow:
    """One tensor's verdict: worst relative error of backprop against finite differences."""

    name: str
    shape: tuple[int, ...]
    relative_error: float  # ||analytic - numeric|| / (||analytic|| + ||numeric||)
    max_abs_error: float


@dataclass
class GradcheckReport:
    rows: list[GradcheckRow]
    samples_used: int
    samples_skipped: int  # too close to a ReLU kink for a finite difference to be valid

    @property
    def worst(self) -> float:
        return max(row.relative_error for row in self.rows)

    def table(self) -> str:
        lines = [f"{'tensor':<12} {'shape':<12} {'rel. error':>11} {'max abs err':>12}"]
        for row in self.rows:
            lines.append(
                f"{row.name:<12} {row.shape!s:<12} {row.relative_error:>11.2e} "
                f"{row.max_abs_error:>12.2e}"
            )
        lines.append(
            f"worst {self.worst:.2e}; {self.samples_used} samples used, "
            f"{self.samples_skipped} skipped near a ReLU kink"
        )
        return "\n".join(lines)


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


def numeric_gradient(loss_of, array: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of ``loss_of()`` with respect to every entry of ``array``."""
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)  # views: writes reach ``array``
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        loss_plus = loss_of()
        flat[i] = original - eps
        loss_minus = loss_of()
        flat[i] = original
        flat_grad[i] = (loss_plus - loss_minus) / (2 * eps)
    return grad


def gradcheck(
    model: MLP,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float = 1e-6,
    kink_margin: float = 1e-3,
) -> GradcheckReport:
    """Compare ``model.backward`` with central differences for every parameter and the input.

    Use float64: in float32 rounding (~1e-7) divided by 2 eps swamps the signal.
    """
    x = np.array(x, dtype=model.dtype)
    y = np.array(y, dtype=model.dtype)
    keep = away_from_kinks(model, x, kink_margin)
    x, y = np.ascontiguousarray(x[keep]), np.ascontiguousarray(y[keep])
    if len(x) == 0:
        raise ValueError("every sample lies near a ReLU kink; use other inputs or a smaller margin")
    loss_fn = MSELoss()

    model.zero_grad()
    loss_fn(model(x), y)
    grad_x = model.backward(loss_fn.backward())

    def loss_of() -> float:
        return loss_fn(model(x), y)

    rows = []
    targets = [("input x", x, grad_x)]
    for number, linear in enumerate(model.linears, start=1):
        assert isinstance(linear, Linear)
        targets.append((f"weight{number}", linear.weight.data, linear.weight.grad.copy()))
        targets.append((f"bias{number}", linear.bias.data, linear.bias.grad.copy()))
    for name, array, analytic in targets:
        numeric = numeric_gradient(loss_of, array, eps)
        rows.append(
            GradcheckRow(
                name,
                array.shape,
                relative_error(analytic, numeric),
                float(np.max(np.abs(analytic - numeric))),
            )
        )
    return GradcheckReport(rows, samples_used=len(x), samples_skipped=int((~keep).sum()))
