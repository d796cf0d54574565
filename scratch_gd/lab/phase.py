"""Momentum as a picture: SGD with momentum on a 1-D bowl, drawn in the (position, velocity) plane.

On the quadratic f(p) = a p²/2 the gradient is g = a p, and torch's momentum step
(``reference/sgd.py``)

    v_{t+1} = m v_t + a p_t,        p_{t+1} = p_t - lr v_{t+1}

is *linear* in the state z = (p, v): z_{t+1} = A z_t with, writing h = lr a,

    A = [[1 - h, -lr m],
         [a,      m   ]],        det A = m,        trace A = 1 + m - h.

Everything follows from those two numbers. The eigenvalues of A multiply to det A = m.
They are complex, so the state turns as well as shrinks, exactly when

    (1 + m - h)² < 4 m   <=>   (1 - √m)² < h < (1 + √m)²        (the *underdamped* range),

and complex conjugates have equal modulus, so both are √m: each step turns the state by
an angle θ, cos θ = (1 + m - h) / (2 √m), and shrinks it by √m. A spiral that closes in
at rate √m per step, whatever the learning rate within that range.

Per step and not just on average: the quadratic form (u = lr v, the distance a step moves)

    Q(p, v) = h p² + (m - 1 + h) p u + m u²

satisfies Q(A z) = m Q(z) for every z (expand it; ``test_phase.py`` checks it), and it is
positive definite precisely in the underdamped range. So √Q, the state's size measured in
that norm, shrinks by exactly √m every single step.

- m = 1 (the lesson's momentum): Q(A z) = Q(z). Nothing is lost, the state goes round the
  ellipse Q = Q(z_0) for ever: a ball in a frictionless bowl. The orbit never closes.
- 0 < m < 1: the friction 1 - m drains Q by the factor m per step: a spiral.
- m = 0 (plain gradient descent): det A = 0, the eigenvalues are 0 and 1 - h. The velocity
  is just the last gradient, v_{t+1} = a p_t (no memory), and p shrinks by |1 - h| per
  step: the state runs straight into the origin along v = a p / (1 - h), no spiral at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

MOMENTA = (0.0, 0.5, 0.9, 1.0)  # the portrait's four panels
LR = 0.5  # with a = 1, h = 0.5 is underdamped for every m in (0, 1]: (1 - √m)² < 0.5
CURVATURE = 1.0  # a in f(p) = a p²/2
STEPS = 60


def step_matrix(m: float, lr: float, a: float = CURVATURE) -> np.ndarray:
    """A, with (p, v)_{t+1} = A (p, v)_t for torch's momentum step on f(p) = a p²/2."""
    h = lr * a
    return np.array([[1 - h, -lr * m], [a, m]])


def iterate(
    m: float,
    lr: float,
    a: float = CURVATURE,
    *,
    steps: int = STEPS,
    p0: float = 1.0,
    v0: float = 0.0,
) -> np.ndarray:
    """The exact iterates (p_t, v_t), t = 0..steps, as rows of a (steps + 1, 2) array.

    Written as the optimiser does it (velocity first, then position), not as powers of A.
    v0 = 0 matches torch, whose first step sets the velocity to the first gradient.
    """
    states = np.empty((steps + 1, 2))
    p, v = float(p0), float(v0)
    states[0] = p, v
    for t in range(1, steps + 1):
        v = m * v + a * p  # the velocity: friction m, then the gradient a p
        p = p - lr * v
        states[t] = p, v
    return states


def underdamped_range(m: float) -> tuple[float, float]:
    """The values of h = lr a for which the state spirals: ((1 - √m)², (1 + √m)²)."""
    root = math.sqrt(m)
    return (1 - root) ** 2, (1 + root) ** 2


def is_underdamped(m: float, lr: float, a: float = CURVATURE) -> bool:
    low, high = underdamped_range(m)
    return low < lr * a < high


def spiral_rate(m: float) -> float:
    """How much the state shrinks per step in the underdamped range: √m = √det A."""
    return math.sqrt(m)


def turn_per_step(m: float, lr: float, a: float = CURVATURE) -> float:
    """θ in radians, cos θ = (1 + m - h) / (2 √m): how far the spiral turns each step."""
    if not is_underdamped(m, lr, a):
        raise ValueError(f"m={m:g}, lr*a={lr * a:g} is not underdamped: the state does not turn")
    return math.acos((1 + m - lr * a) / (2 * math.sqrt(m)))


def energy_form(m: float, lr: float, a: float = CURVATURE) -> np.ndarray:
    """The symmetric matrix M with Q(p, v) = (p, v) M (p, v)ᵀ (see the module docstring)."""
    h = lr * a
    cross = (m - 1 + h) * lr / 2  # Q's p·u term, with u = lr v, split over both corners
    return np.array([[h, cross], [cross, m * lr**2]])


def energy(states: np.ndarray, m: float, lr: float, a: float = CURVATURE) -> np.ndarray:
    """Q of each state (row (p, v)): multiplied by exactly m at every step."""
    form = energy_form(m, lr, a)
    return np.einsum("ti,ij,tj->t", states, form, states)


def measured_rates(states: np.ndarray, m: float, lr: float, a: float = CURVATURE) -> np.ndarray:
    """√(Q_{t+1} / Q_t) for each step: the measured contraction, to compare with √m."""
    size = np.sqrt(energy(states, m, lr, a))
    return size[1:] / size[:-1]


def ellipse(level: float, m: float, lr: float, a: float = CURVATURE, points: int = 200):
    """(p, v) points on the curve Q = ``level`` (an ellipse in the underdamped range)."""
    values, vectors = np.linalg.eigh(energy_form(m, lr, a))
    if np.any(values <= 0):
        raise ValueError("Q is not positive definite here (not underdamped): no ellipse")
    angle = np.linspace(0, 2 * np.pi, points)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    return (vectors @ (circle * np.sqrt(level / values)[:, None])).T


# --- The figure ------------------------------------------------------------------------------

COLORS = {0.0: "#1f77b4", 0.5: "#2ca02c", 0.9: "#ff7f0e", 1.0: "#d62728"}


def _panel_title(m: float, lr: float, a: float) -> str:
    if m == 0:
        shrink = abs(1 - lr * a)
        return f"m = 0: no memory, v = last gradient\np shrinks ×|1 − lr·a| = {shrink:.2g} per step"
    turn = math.degrees(turn_per_step(m, lr, a))
    if m == 1:
        return f"m = 1: no friction, Q is conserved\nturns {turn:.0f}° per step, never closes in"
    return f"m = {m:g}: spiral, ×√m = {spiral_rate(m):.3f} per step\nturns {turn:.0f}° per step"


def phase_figure(
    path: Path,
    *,
    momenta: Sequence[float] = MOMENTA,
    lr: float = LR,
    a: float = CURVATURE,
    steps: int = STEPS,
) -> Path:
    """Top: one (position, velocity) portrait per momentum. Bottom: the state's size per step,
    measured (dots) against the analytic rate (lines)."""
    import matplotlib.pyplot as plt

    from .race_plots import save

    for m in momenta:
        if m > 0 and not is_underdamped(m, lr, a):
            low, high = underdamped_range(m)
            raise ValueError(f"lr*a={lr * a:g} must lie in ({low:.3g}, {high:.3g}) for m={m:g}")
    fig = plt.figure(figsize=(12, 7), layout="constrained")
    mosaic = [[f"m{index}" for index in range(len(momenta))], ["rate"] * len(momenta)]
    axes = fig.subplot_mosaic(mosaic, height_ratios=[1.15, 1])
    rate_ax = axes["rate"]
    t = np.arange(steps + 1)
    for index, m in enumerate(momenta):
        ax, color = axes[f"m{index}"], COLORS.get(m, "0.3")
        states = iterate(m, lr, a, steps=steps)
        p, v = states[:, 0], states[:, 1]
        ax.plot(p, v, "-", color=color, linewidth=0.8, alpha=0.6)
        ax.plot(p, v, "o", color=color, markersize=2.5)
        ax.plot(p[0], v[0], "ks", markersize=6, label="start (p, v) = (1, 0)")
        ax.plot(0, 0, "k+", markersize=10, label="the minimum")
        if m > 0:
            level = energy(states[:1], m, lr, a)[0]
            ring = ellipse(level, m, lr, a)
            ax.plot(ring[:, 0], ring[:, 1], "k--", linewidth=0.8, label="Q = Q(start)")
        ax.set_title(_panel_title(m, lr, a), fontsize=9)
        ax.set_xlabel("position p")
        ax.grid(alpha=0.3)
        if index == 0:
            ax.set_ylabel("velocity v (torch's momentum buffer)")
            ax.legend(fontsize=7, loc="upper left")
        # The size of the state per step, in the norm in which each step is a turn and a shrink.
        if m == 0:
            size, rate, what = np.abs(p), abs(1 - lr * a), "|p|"
        else:
            size, rate, what = np.sqrt(energy(states, m, lr, a)), spiral_rate(m), "√Q"
        size = size / size[0]
        shown = size > 1e-12  # m = 0 reaches the minimum to rounding within a few dozen steps
        rate_ax.plot(t[shown], size[shown], "o", color=color, markersize=3)
        rate_label = "√m" if m > 0 else "|1 − lr·a|"
        rate_ax.plot(
            t[shown],
            rate ** t[shown],
            "-",
            color=color,
            linewidth=1,
            label=f"m = {m:g}: {what}, measured (dots) and {rate_label}^t = {rate:.3g}^t (line)",
        )
    rate_ax.set_yscale("log")
    rate_ax.set_xlabel("step t")
    rate_ax.set_ylabel("size of the state / at start (log)")
    rate_ax.set_title(
        "Q = h p² + (m − 1 + h) p u + m u²  (h = lr·a, u = lr·v) is multiplied by exactly m each "
        "step: √Q shrinks ×√m",
        fontsize=9,
    )
    rate_ax.grid(alpha=0.3, which="both")
    rate_ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(
        f"SGD with momentum on f(p) = a p²/2 (a = {a:g}, lr = {lr:g}; torch's v = m v + g, "
        f"p = p − lr v), {steps} steps from p = 1, v = 0\nIt spirals in at √m per step "
        f"whenever (1 − √m)² < lr·a < (1 + √m)²; at m = 1 the orbit never closes",
        fontsize=10,
    )
    return save(fig, path)
