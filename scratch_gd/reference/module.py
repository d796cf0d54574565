"""The base class every layer shares: call it to run forward, then run backward."""

from __future__ import annotations

import numpy as np

from .parameter import Parameter


class Module:
    """A piece of a network with a ``forward`` and the ``backward`` that undoes it.

    ``forward(x)`` computes the output and keeps whatever ``backward`` will need (the
    *cache*). ``backward(grad_out)`` takes dL/d(output), adds dL/d(parameter) into each
    parameter's ``.grad`` and returns dL/d(input), so the layer before can continue.
    """

    cache: object = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        return []

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.zero_grad()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def check_forward_ran(self) -> None:
        """Backward needs the cache that forward leaves; say so instead of failing on None."""
        if self.cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward; run the model first"
            )
