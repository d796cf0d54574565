"""The rectifier ``max(x, 0)``, forward and backward."""

from __future__ import annotations

import numpy as np

from .module import Module


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shapes: x (N, D) -> out (N, D). Returns ``(out, cache)``, the cache being ``out``."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(grad_out: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Gradient of ReLU from the upstream gradient G = dL/d(out).

    Shapes: grad_out (N, D), cache out (N, D)  ->  grad_x (N, D).

    out = max(x, 0) has slope 1 where x > 0 and 0 where x < 0, so
        dL/dx = G * [x > 0]   (elementwise; [.] is 1 when true, else 0).
    At exactly x = 0 there is no slope; like torch we use 0. ``out > 0`` is the same
    mask as ``x > 0``, so keeping the output is enough.
    """
    out = cache
    return grad_out * (out > 0)


class ReLU(Module):
    """``torch.nn.ReLU`` from scratch."""

    def __init__(self) -> None:
        self.cache: np.ndarray | None = None  # what forward kept for backward: the output

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self.cache = relu_forward(x)
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self.check_forward_ran()
        return relu_backward(grad_out, self.cache)

    def __repr__(self) -> str:
        return "ReLU()"
