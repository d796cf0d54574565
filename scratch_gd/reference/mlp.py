"""Layers in a row: ``Sequential``, and ``MLP``, the Linear-ReLU stack the lesson trains."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..store import checkpoint
from .linear import Linear
from .module import Module
from .parameter import Parameter
from .relu import ReLU

DTYPES = {"float32": np.float32, "float64": np.float64}


def as_dtype(dtype: np.dtype | type | str) -> np.dtype:
    """The float dtype asked for, or a clear error for anything else."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


class Sequential(Module):
    """Run layers in order; backward runs them in reverse (the chain rule, one link each)."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Shapes: grad_out (N, out) -> dL/dx (N, in); fills every parameter's ``.grad``."""
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"{type(self).__name__}(\n  {inner}\n)"


class MLP(Sequential):
    """A multilayer perceptron: Linear, ReLU, Linear, ReLU, ..., Linear.

    ``MLP([1, 32, 32, 1])`` is the lesson's network. Parameters come in torch's order
    (weight then bias, layer by layer), so they line up one-to-one with
    ``torch.nn.Sequential(Linear, ReLU, Linear, ReLU, Linear).parameters()``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        dtype: np.dtype | type | str = np.float32,
        seed: int | None = 0,
        backend: str = "numba",
    ) -> None:
        if any(isinstance(s, bool) or int(s) != s for s in sizes):
            raise ValueError(f"sizes must be whole numbers, got {list(sizes)}")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(
                f"sizes must list at least an input and an output width, all >= 1; got {sizes}"
            )
        self.sizes = sizes
        self.dtype = as_dtype(dtype)
        self.backend = backend
        rng = np.random.default_rng(seed)
        layers: list[Module] = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            layers.append(Linear(fan_in, fan_out, dtype=self.dtype, rng=rng, backend=backend))
            layers.append(ReLU())
        super().__init__(*layers[:-1])  # no ReLU after the last layer: a regression output

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shapes: x (N, sizes[0]) -> out (N, sizes[-1]).

        Checks shape and kind only. Finiteness is not checked here, on the hot path of
        every step: ``load_dataset`` guarantees finite data and training stops when the
        loss or a parameter stops being finite.
        """
        x = np.asarray(x)
        if x.dtype.kind not in "biuf":
            raise ValueError(f"MLP expects real numbers, got an array of dtype {x.dtype}")
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"MLP expects input of shape (N, {self.sizes[0]}), got {x.shape}; "
                "reshape a 1-D input with x.reshape(-1, 1)"
            )
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return super().forward(np.ascontiguousarray(x))

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def save(self, path: str | Path) -> Path:
        """Write sizes, dtype and parameters to an ``.npz`` file, atomically.

        See ``scratch_gd.checkpoint`` for the layout; ``MLP.load`` reads it back.
        """
        return checkpoint.save_mlp(self, path)

    @classmethod
    def load(
        cls, path: str | Path, *, sizes: Sequence[int] | None = None, backend: str = "numba"
    ) -> MLP:
        """The model saved at ``path``. With ``sizes``, a checkpoint of any other
        architecture is refused; any problem is a ``checkpoint.CheckpointError`` (a ValueError).
        """
        return checkpoint.load_mlp(path, sizes=sizes, backend=backend)
