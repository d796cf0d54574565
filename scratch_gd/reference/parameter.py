"""A trainable array and the gradient that backprop accumulates into it."""

from __future__ import annotations

import numpy as np


class Parameter:
    """A tensor the optimiser may change, as in ``torch.nn.Parameter``.

    ``data`` holds the value and ``grad`` the gradient of the loss with respect to it.
    Backward passes *add* into ``grad`` (so two backward calls without ``zero_grad``
    sum their gradients, exactly like torch); the optimiser's ``zero_grad`` clears it.
    """

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
