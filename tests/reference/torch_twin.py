"""Build the torch network that mirrors a scratch_gd MLP, weight for weight."""

import numpy as np
import torch

import scratch_gd as sg

TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def torch_twin(model: sg.MLP) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for fan_in, fan_out in zip(model.sizes[:-1], model.sizes[1:], strict=True):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).to(TORCH_DTYPES[model.dtype])
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), net.parameters(), strict=True):
            assert ours.shape == tuple(theirs.shape)
            theirs.copy_(torch.from_numpy(ours.data.copy()))
    return net


def max_relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Largest entrywise gap, relative to the size of the reference tensor."""
    scale = max(float(np.max(np.abs(theirs))), 1e-30)
    return float(np.max(np.abs(ours - theirs))) / scale
