"""Stochastic gradient descent with momentum, step for step the same as ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from . import checks
from .parameter import Parameter


class SGD:
    """``torch.optim.SGD`` from scratch.

    For each parameter p with gradient g, one ``step()`` does (torch's form of momentum):

        g = -g                        if maximize
        g = g + weight_decay * p      (L2 penalty, added *before* momentum)
        v = g                         on the first step (the buffer starts as g itself)
        v = momentum * v + (1 - dampening) * g    on later steps
        g = g + momentum * v          if nesterov, else  g = v
        p = p - lr * g

    v is the *velocity*: a running sum of past gradients. With momentum m < 1 old
    gradients fade by m per step, and a constant gradient g settles at v = g / (1 - m),
    an effective step of lr / (1 - m). With m = 1 nothing ever fades: the velocity
    keeps every gradient it has seen, so the weights overshoot and oscillate for a long
    time. That is the lesson's setting, and why its curves swing.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        self.params = checks.parameter_list(params)
        self.lr, self.momentum, self.dampening, self.weight_decay = checks.sgd_settings(
            lr, momentum, dampening, weight_decay, nesterov
        )
        self.nesterov = bool(nesterov)
        self.maximize = bool(maximize)
        # One velocity per parameter, created on the first step (torch's momentum_buffer).
        self.velocity: list[np.ndarray | None] = [None] * len(self.params)

    def zero_grad(self) -> None:
        for param in self.params:
            param.zero_grad()

    def step(self) -> None:
        for index, param in enumerate(self.params):
            grad = -param.grad if self.maximize else param.grad
            if self.weight_decay != 0:
                grad = grad + self.weight_decay * param.data
            if self.momentum != 0:
                velocity = self.velocity[index]
                if velocity is None:
                    velocity = self.velocity[index] = grad.copy()
                else:
                    velocity *= self.momentum
                    velocity += (1 - self.dampening) * grad
                grad = grad + self.momentum * velocity if self.nesterov else velocity
            param.data -= self.lr * grad

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr}, momentum={self.momentum}, dampening={self.dampening}, "
            f"weight_decay={self.weight_decay}, nesterov={self.nesterov}, "
            f"maximize={self.maximize})"
        )
