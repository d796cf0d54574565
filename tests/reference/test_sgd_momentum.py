"""Two ways to write momentum, and where they part.

torch, and scratch_gd.SGD:      v = m * v + g          p = p - lr * v
Sutskever et al. / CS231n:      v = m * v - lr * g     p = p + v

With a constant lr the CS231n velocity is always -lr times torch's (induction: if
u = -lr * v before a step, then m * u - lr * g = -lr * (m * v + g) after it), so both take
the very same steps. When lr changes, they part: torch multiplies its whole velocity, old
gradients included, by the *new* lr at once; the CS231n velocity holds old gradients already
multiplied by the old lr, and lets them fade at rate m. Right after lr goes from lr1 to lr2,
    torch step - CS231n step = (lr1 - lr2) * m * v_torch(before the step).
torch's dampening d (v = m * v + (1 - d) * g) has no CS231n twin either: it matches CS231n
with lr * (1 - d) on every step but the first, which torch leaves undamped (its velocity
starts as g itself).

docs/confusions.md quotes the numbers; print them with ``python tests/reference/test_sgd_momentum.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import scratch_gd as sg
from scratch_gd.reference.parameter import Parameter

MOMENTUM = 0.9
LR = 1e-2
STEPS = 200
CHANGE_AT = 100  # the step where the schedule switches lr (a typical 10x drop)


class SutskeverSGD:
    """Momentum in the CS231n form: v = m * v - lr * g, then p = p + v (v starts at 0).

    ``first_velocity_scale`` only exists to pin down the dampening difference: torch's first
    step is undamped, so a CS231n run with lr * (1 - d) needs its first step scaled by
    1 / (1 - d) to match it.
    """

    def __init__(
        self,
        params: list[Parameter],
        lr: float,
        momentum: float,
        first_velocity_scale: float = 1.0,
    ) -> None:
        self.params = params
        self.lr = lr
        self.momentum = momentum
        self.first_velocity_scale = first_velocity_scale
        self.velocity = [np.zeros_like(p.data) for p in params]
        self.steps = 0

    def zero_grad(self) -> None:
        for param in self.params:
            param.zero_grad()

    def step(self) -> None:
        scale = self.first_velocity_scale if self.steps == 0 else 1.0
        for param, velocity in zip(self.params, self.velocity, strict=True):
            velocity *= self.momentum
            velocity -= scale * self.lr * param.grad
            param.data += velocity
        self.steps += 1


def problem() -> tuple[sg.MLP, np.ndarray, np.ndarray]:
    """The lesson's network on 64 of its samples, full batch, float64: no sampling noise."""
    x, y = sg.lesson_data(64, dtype=np.float64)
    return sg.MLP([1, 32, 32, 1], dtype=np.float64, seed=0, backend="numpy"), x, y


def flat(model: sg.MLP) -> np.ndarray:
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def trajectory(
    make_optimizer: Callable[[list[Parameter]], object],
    lr_at: Callable[[int], float],
    steps: int = STEPS,
) -> np.ndarray:
    """Parameters before the first step and after each step: shape (steps + 1, P)."""
    model, x, y = problem()
    optimizer = make_optimizer(model.parameters())
    loss_fn = sg.MSELoss()
    points = [flat(model)]
    for step in range(steps):
        optimizer.lr = lr_at(step)
        optimizer.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()
        points.append(flat(model))
    return np.array(points)


def constant(step: int) -> float:
    return LR


def drop(step: int) -> float:
    return LR if step < CHANGE_AT else LR / 10


def torch_form(params: list[Parameter], **options) -> sg.SGD:
    return sg.SGD(params, lr=LR, momentum=MOMENTUM, **options)


def cs231n_form(params: list[Parameter]) -> SutskeverSGD:
    return SutskeverSGD(params, lr=LR, momentum=MOMENTUM)


def gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between two trajectories, relative to how far the first has travelled."""
    travelled = np.linalg.norm(a - a[0], axis=1)
    return np.linalg.norm(a - b, axis=1) / np.maximum(travelled, 1e-300)


def test_at_a_constant_lr_the_two_forms_take_the_same_steps(record_error):
    torch_path = trajectory(torch_form, constant)
    cs231n_path = trajectory(cs231n_form, constant)
    worst = float(np.max(gap(torch_path, cs231n_path)[1:]))
    record_error("(c) torch vs CS231n momentum, constant lr, float64", worst)
    assert worst < 1e-10
    assert np.linalg.norm(torch_path[-1] - torch_path[0]) > 0.1  # they did go somewhere


def test_after_an_lr_drop_the_forms_part_exactly_as_predicted():
    torch_path = trajectory(torch_form, drop)
    cs231n_path = trajectory(cs231n_form, drop)
    apart = gap(torch_path, cs231n_path)
    assert np.max(apart[: CHANGE_AT + 1]) < 1e-10  # identical up to the drop

    # The first step after the drop: torch - CS231n = (lr1 - lr2) * m * v, where torch's
    # velocity v is minus its last step divided by the old lr (p = p - lr * v).
    velocity = (torch_path[CHANGE_AT - 1] - torch_path[CHANGE_AT]) / LR
    predicted = (LR - LR / 10) * MOMENTUM * velocity
    torch_step = torch_path[CHANGE_AT + 1] - torch_path[CHANGE_AT]
    cs231n_step = cs231n_path[CHANGE_AT + 1] - cs231n_path[CHANGE_AT]
    np.testing.assert_allclose(torch_step - cs231n_step, predicted, rtol=1e-6, atol=1e-15)

    # torch's step shrinks 10x at once; the CS231n one shrinks gradually, by about m a step.
    step_before = np.linalg.norm(torch_path[CHANGE_AT] - torch_path[CHANGE_AT - 1])
    assert np.linalg.norm(torch_step) < 0.2 * step_before
    assert np.linalg.norm(cs231n_step) > 0.8 * step_before
    assert apart[-1] > 1e-3  # and the runs stay apart


def test_torch_dampening_is_cs231n_with_a_scaled_lr_except_for_the_first_step():
    damping = 0.5
    torch_path = trajectory(lambda p: torch_form(p, dampening=damping), constant)

    def run_scaled(first_velocity_scale: float) -> np.ndarray:
        lr = LR * (1 - damping)
        return trajectory(
            lambda p: SutskeverSGD(p, lr, MOMENTUM, first_velocity_scale), lambda step: lr
        )

    plain = trajectory(cs231n_form, constant)
    assert np.max(gap(torch_path, plain)[1:]) > 1e-2  # same lr: far apart
    assert np.max(gap(torch_path, run_scaled(1.0))[1:]) > 1e-3  # first step differs
    # Undamped first step, lr * (1 - d) after it: torch's dampening, step for step.
    assert np.max(gap(torch_path, run_scaled(1 / (1 - damping)))[1:]) < 1e-10


def main() -> None:
    torch_path = trajectory(torch_form, constant)
    print(f"momentum {MOMENTUM}, lr {LR}, {STEPS} full-batch steps, 1-32-32-1 float64")
    worst = np.max(gap(torch_path, trajectory(cs231n_form, constant))[1:])
    print(f"constant lr: largest gap between the forms {worst:.1e} (relative to distance moved)")
    torch_path = trajectory(torch_form, drop)
    cs231n_path = trajectory(cs231n_form, drop)
    apart = gap(torch_path, cs231n_path)
    print(f"lr {LR:g} -> {LR / 10:g} at step {CHANGE_AT}: step sizes |p_k+1 - p_k| around it")
    print(f"{'step':>6} {'torch':>10} {'CS231n':>10} {'gap':>9}")
    for step in [*range(CHANGE_AT - 2, CHANGE_AT + 6), CHANGE_AT + 20, STEPS - 1]:
        sizes = [np.linalg.norm(path[step + 1] - path[step]) for path in (torch_path, cs231n_path)]
        print(f"{step:>6} {sizes[0]:>10.2e} {sizes[1]:>10.2e} {apart[step + 1]:>9.1e}")


if __name__ == "__main__":
    main()
