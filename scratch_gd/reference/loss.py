"""Mean squared error, the loss the lesson minimises, forward and backward."""

from __future__ import annotations

import numpy as np

from . import checks


def mse_forward(out: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean of squared errors over *all* elements, as ``torch.nn.MSELoss()``.

    Shapes: out (N, D), target (N, D) -> a float. Returns ``(loss, cache)``; the cache is
    the error ``out - target``, all that backward needs.
    """
    diff = out - target
    return float(np.mean(diff * diff)), diff


def mse_backward(cache: np.ndarray) -> np.ndarray:
    """dL/d(out) of the mean squared error. Shapes: cache diff (N, D) -> grad (N, D).

    L = (1/M) * sum_k (out_k - y_k)^2 with M = N * D elements, so each error's slope is
        dL/d(out_k) = (2/M) * (out_k - y_k).
    The 2 comes from the square; the 1/M from the mean (a summed loss would drop it).
    """
    diff = cache
    return diff * diff.dtype.type(2.0 / diff.size)


class MSELoss:
    """``torch.nn.MSELoss()``: call it on (output, target), then ``backward()``.

    Unlike torch, an (N,) target against an (N, 1) output is refused: broadcasting would
    silently compare every prediction with every target and compute an N x N loss. So are
    batches of different sizes, different dtypes and non-float arrays (``checks.py``).
    """

    def __init__(self) -> None:
        self.cache: np.ndarray | None = None

    def __call__(self, out: np.ndarray, target: np.ndarray) -> float:
        return self.forward(out, target)

    def forward(self, out: np.ndarray, target: np.ndarray) -> float:
        out, target = checks.loss_pair(out, target)
        loss, self.cache = mse_forward(out, target)
        return loss

    def backward(self) -> np.ndarray:
        """dL/d(out), the shape of the output: pass it to ``model.backward``."""
        if self.cache is None:
            raise RuntimeError("MSELoss.backward called before the loss was computed")
        return mse_backward(self.cache)
