"""The bridge to PyTorch: ``MLP.from_torch(sequential)`` and ``model.to_torch()``.

For the learner who outgrows scratch_gd: the same network, the same numbers, in torch.
Our ``MLP`` is torch's ``nn.Sequential(Linear, ReLU, Linear, ..., Linear)`` layer for layer,
with the weights in the same ``(out, in)`` layout and ``state_dict()`` under the same keys
(``0.weight``, ``0.bias``, ``2.weight``, ...), so crossing over is a copy of every array:

    model = sg.MLP([1, 32, 32, 1], dtype="float64")
    net = model.to_torch()            # an nn.Sequential holding copies of the weights
    back = sg.MLP.from_torch(net)     # and back: same sizes, dtype from torch's weights

torch is imported inside these two functions only, so scratch_gd runs without it; the
reference path (``scratch_gd/reference``) never sees torch at all. Like ``MLP.save`` (see
``store/checkpoint.py``), both are attached to ``MLP`` at the bottom of this file.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .reference.mlp import MLP

TORCH_DTYPES = ("float32", "float64")


def _import_torch(who: str) -> ModuleType:
    """torch itself, or an ImportError saying in one line how to get it."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"{who} needs PyTorch: pip install torch==2.13.0") from None
    return torch


def sizes_of_sequential(sequential: object) -> list[int]:
    """The layer widths of an ``nn.Sequential`` of Linear, ReLU, Linear, ..., Linear.

    Anything else (another container, another layer type, two Linears in a row, a ReLU at
    the end, widths that do not chain, a Linear without bias) is a ``ValueError``
    (``TypeError`` for a non-Sequential) that names the layer and what was expected.
    """
    torch = _import_torch("MLP.from_torch")
    nn = torch.nn
    if not isinstance(sequential, nn.Sequential):
        raise TypeError(
            f"MLP.from_torch takes an nn.Sequential of Linear and ReLU layers, got "
            f"{type(sequential).__name__}; wrap the layers in nn.Sequential(...)"
        )
    layers = list(sequential)
    if len(layers) % 2 == 0:
        raise ValueError(
            f"MLP.from_torch needs Linear, ReLU, Linear, ..., Linear (an odd number of "
            f"layers, Linear first and last), got {len(layers)} layers"
        )
    sizes: list[int] = []
    for index, layer in enumerate(layers):
        expected = nn.Linear if index % 2 == 0 else nn.ReLU
        if type(layer) is not expected:
            raise ValueError(
                f"MLP.from_torch: layer {index} is {type(layer).__name__}, but an MLP "
                f"alternates Linear and ReLU, so layer {index} must be {expected.__name__}"
            )
        if expected is nn.ReLU:
            continue
        if layer.bias is None:
            raise ValueError(f"MLP.from_torch: layer {index} is a Linear without a bias")
        if sizes and layer.in_features != sizes[-1]:
            raise ValueError(
                f"MLP.from_torch: layer {index} takes {layer.in_features} inputs, but the "
                f"layer before it gives {sizes[-1]}"
            )
        if not sizes:
            sizes.append(layer.in_features)
        sizes.append(layer.out_features)
    return sizes


def mlp_from_torch(sequential: object, *, backend: str = "numba") -> MLP:
    """An ``MLP`` holding copies of an ``nn.Sequential``'s weights, in their dtype."""
    sizes = sizes_of_sequential(sequential)
    first = sequential[0].weight
    dtype = str(first.dtype).removeprefix("torch.")
    if dtype not in TORCH_DTYPES:
        raise ValueError(
            f"MLP.from_torch: the weights are {dtype}, but an MLP is float32 or float64; "
            "convert with sequential.float() or sequential.double()"
        )
    model = MLP(sizes, dtype=dtype, seed=0, backend=backend)
    model.load_state_dict(sequential.state_dict())
    return model


def mlp_to_torch(model: MLP) -> object:
    """``nn.Sequential(Linear, ReLU, ..., Linear)`` holding copies of ``model``'s weights."""
    torch = _import_torch("MLP.to_torch")
    nn = torch.nn
    layers = []
    for linear in model.linears:
        layers += [nn.Linear(linear.in_features, linear.out_features), nn.ReLU()]
    sequential = nn.Sequential(*layers[:-1]).to(getattr(torch, model.dtype.name))
    # Same keys on both sides ("0.weight", "0.bias", "2.weight", ...): a strict load.
    state = {key: torch.from_numpy(np.array(value)) for key, value in model.state_dict().items()}
    sequential.load_state_dict(state, strict=True)
    return sequential


# --- MLP.from_torch and MLP.to_torch -----------------------------------------------------
# reference/ holds NumPy maths only; the torch bridge is attached to MLP here, so
# ``MLP.from_torch(net)`` and ``model.to_torch()`` work wherever scratch_gd is imported.


def _from_torch(cls: type[MLP], sequential: object, *, backend: str = "numba") -> MLP:
    """The ``MLP`` equal to an ``nn.Sequential`` of alternating Linear and ReLU layers.

    Sizes come from the Linear layers, the dtype from their weights (float32 or float64);
    the weights are copied, so changing one model leaves the other alone.
    """
    return mlp_from_torch(sequential, backend=backend)


def _to_torch(self: MLP) -> object:
    """This network as ``torch.nn.Sequential(Linear, ReLU, ..., Linear)``, weights copied."""
    return mlp_to_torch(self)


MLP.from_torch = classmethod(_from_torch)
MLP.to_torch = _to_torch
