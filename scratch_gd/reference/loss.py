"""Mean squared error, the loss the lesson minimises."""

from __future__ import annotations

import numpy as np


class MSELoss:
    """``torch.nn.MSELoss()``: the mean of squared errors over *all* elements.

    L = (1/N) * sum_k (out_k - y_k)^2, with N = out.size (batch times outputs), so
        dL/d(out_k) = (2/N) * (out_k - y_k).
    Unlike torch, an (N,) target against an (N, 1) output is refused: broadcasting would
    silently compare every prediction with every target and compute an N x N loss. So are
    batches of different sizes, different dtypes and non-float arrays. Values are not
    checked for NaN (a per-step cost); training stops when the loss is not finite.
    """

    def __init__(self) -> None:
        self._diff: np.ndarray | None = None

    def __call__(self, out: np.ndarray, target: np.ndarray) -> float:
        return self.forward(out, target)

    def forward(self, out: np.ndarray, target: np.ndarray) -> float:
        out, target = np.asarray(out), np.asarray(target)
        if out.ndim >= 1 and target.ndim >= 1 and out.shape[0] != target.shape[0]:
            raise ValueError(
                f"MSELoss got {out.shape[0]} outputs but {target.shape[0]} targets (shapes "
                f"{out.shape} and {target.shape}); pass the targets of the same batch"
            )
        if out.shape != target.shape:
            hint = " (reshape the target with y.reshape(-1, 1))" if target.ndim == 1 else ""
            raise ValueError(
                f"MSELoss needs output and target of the same shape, got {out.shape} "
                f"and {target.shape}{hint}"
            )
        if out.dtype.kind != "f":
            # An integer difference would make backward's gradient integer (and wrong).
            raise ValueError(
                f"MSELoss needs floating-point arrays, got {out.dtype}; convert with "
                "x.astype(np.float32)"
            )
        if out.dtype != target.dtype:
            raise ValueError(
                f"MSELoss needs output and target of the same dtype, got {out.dtype} and "
                f"{target.dtype}; convert with target.astype(out.dtype)"
            )
        if out.size == 0:
            raise ValueError("MSELoss got an empty batch; a batch needs at least one sample")
        self._diff = out - target
        return float(np.mean(self._diff * self._diff))

    def backward(self) -> np.ndarray:
        """dL/d(out), shape of the output: (2/N) * (out - target)."""
        if self._diff is None:
            raise RuntimeError("MSELoss.backward called before the loss was computed")
        diff = self._diff
        return diff * diff.dtype.type(2.0 / diff.size)
