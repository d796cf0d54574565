"""Layers in a row: ``Sequential``, and ``MLP``, the Linear-ReLU stack the lesson trains."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from . import checks
from .backend import Backend
from .data import as_dtype
from .linear import Linear
from .module import Module
from .parameter import Parameter
from .relu import ReLU


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
    ``torch.nn.Sequential(Linear, ReLU, Linear, ReLU, Linear).parameters()``, and
    ``state_dict()`` uses that Sequential's keys (``0.weight``, ``0.bias``, ``2.weight``...).

    ``MLP.save``/``MLP.load`` (files) are added by ``scratch_gd/store/checkpoint.py`` and
    ``MLP.to_torch``/``MLP.from_torch`` by ``scratch_gd/bridge.py``: this folder stays NumPy.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        dtype: np.dtype | type | str = np.float32,
        seed: int | None = 0,
        backend: str | Backend = "numba",
    ) -> None:
        self.sizes = checks.layer_sizes(sizes)
        self.dtype = as_dtype(dtype)
        checks.parameters_fit_in_memory(self.sizes, self.dtype)
        rng = np.random.default_rng(seed)
        layers: list[Module] = []
        for fan_in, fan_out in itertools.pairwise(self.sizes):
            layers.append(Linear(fan_in, fan_out, dtype=self.dtype, rng=rng, backend=backend))
            layers.append(ReLU())
        super().__init__(*layers[:-1])  # no ReLU after the last layer: a regression output
        self.backend = self.linears[0].backend.name  # the name, as given: "numba" or "numpy"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Shapes: x (N, sizes[0]) -> out (N, sizes[-1])."""
        return super().forward(checks.model_input(x, self.sizes[0], self.dtype))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Shapes: grad_out = dL/d(out) (N, sizes[-1]) -> dL/dx (N, sizes[0])."""
        self.check_forward_ran()
        batch = len(self.linears[0].cache)
        return super().backward(checks.upstream_gradient(grad_out, (batch, self.sizes[-1])))

    @property
    def cache(self) -> object:
        return self.layers[0].cache  # forward ran when its first layer has a cache

    @property
    def linears(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def named_parameters(self) -> dict[str, Parameter]:
        """The parameters under torch's ``nn.Sequential`` names: ``0.weight``, ``0.bias``,
        ``2.weight``, ... (a layer's index in ``self.layers``, ReLUs counted)."""
        named = {}
        for index, layer in enumerate(self.layers):
            if isinstance(layer, Linear):
                named[f"{index}.weight"], named[f"{index}.bias"] = layer.weight, layer.bias
        return named

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters under torch's ``nn.Sequential`` keys."""
        return {name: param.data.copy() for name, param in self.named_parameters().items()}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        """Copy parameters in from a ``state_dict()``: NumPy arrays or torch tensors.

        Keys and shapes must match exactly (torch's ``strict=True``); values are converted
        to the model's dtype and written into the existing arrays, so an optimiser that
        holds them keeps working.
        """
        mine = self.named_parameters()
        checks.same_keys(mine, state)
        # Every value is checked before any is copied: a bad one leaves the model unchanged.
        values = {key: checks.state_value(key, state[key], mine[key].shape) for key in mine}
        for key, value in values.items():
            mine[key].data[...] = value.astype(self.dtype)
