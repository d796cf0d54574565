"""The checks at the reference path's public doors, kept out of the maths.

Not part of the reading order: each function here makes sure a learner's call gets one
clear sentence naming the problem and the fix, instead of a traceback from inside NumPy
(or, worse, a silent broadcast). The layers check nothing; their callers come through
here once.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .parameter import Parameter


def whole_number(name: str, value: object, minimum: int) -> int:
    """``value`` as an int if it is a whole number (not a bool, not 25.0) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def layer_sizes(sizes: Sequence[int]) -> list[int]:
    try:
        listed = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a list of layer widths, got {sizes!r}") from None
    if any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in listed):
        raise ValueError(f"sizes must be whole numbers, got {listed}")
    if len(listed) < 2 or min(listed) < 1:
        raise ValueError(
            f"sizes must list at least an input and an output width, all >= 1; got {listed}"
        )
    return [int(s) for s in listed]


def memory_bytes() -> int:
    """The machine's physical memory, or a generous guess where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**40


def fits_in_memory(what: str, count: int, itemsize: int, copies: int = 1) -> None:
    """Refuse up front a request whose arrays could never fit, naming the size it needs."""
    needed, available = count * itemsize * copies, memory_bytes()
    if needed > available:
        raise MemoryError(
            f"{what} would need {needed / 2**30:,.1f} GiB but this machine has "
            f"{available / 2**30:,.1f} GiB; ask for less"
        )


def parameters_fit_in_memory(sizes: list[int], dtype: np.dtype) -> None:
    count = sum(a * b + b for a, b in itertools.pairwise(sizes))
    fits_in_memory(f"an MLP of sizes {sizes}", count, dtype.itemsize, copies=3)  # data, grad, v


def real_array(name: str, value: object) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got an array of dtype {array.dtype}")
    return array


def model_input(x: object, features: int, dtype: np.dtype, who: str = "MLP") -> np.ndarray:
    """x as a C-contiguous (N, features) array of the model's dtype."""
    x = real_array(f"the {who}'s input", x)
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(
            f"{who} expects input of shape (N, {features}), got {x.shape}; "
            "reshape a 1-D input with x.reshape(-1, 1)"
        )
    return np.ascontiguousarray(x, dtype=dtype)


def upstream_gradient(grad_out: object, shape: tuple[int, int]) -> np.ndarray:
    """What ``model.backward`` must be handed: dL/d(output), an array like the output."""
    if not isinstance(grad_out, np.ndarray) or grad_out.shape != shape:
        array = isinstance(grad_out, np.ndarray)
        got = f"an array of shape {grad_out.shape}" if array else f"a {type(grad_out).__name__}"
        raise TypeError(
            f"backward takes dL/d(output), an array of shape {shape}, got {got}: "
            "call loss_fn.backward() and pass what it returns"
        )
    return grad_out


def loss_pair(out: object, target: object) -> tuple[np.ndarray, np.ndarray]:
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
    return out, target


def parameter_list(params: Iterable[Parameter]) -> list[Parameter]:
    """The optimiser's parameters: Parameters only, each once (torch's rules and words)."""
    try:  # a Parameter or an array iterates over its rows: not what was meant either
        listed = None if isinstance(params, Parameter | np.ndarray) else list(params)
    except TypeError:  # e.g. the model itself: sg.SGD(model) instead of model.parameters()
        listed = None
    if listed is None:
        raise TypeError(
            "params argument given to the optimizer should be an iterable of Tensors or "
            f"dicts, but got {type(params).__name__}; pass model.parameters()"
        )
    if not listed:
        raise ValueError("optimizer got an empty parameter list")
    for param in listed:
        if isinstance(param, dict):
            raise TypeError(
                "parameter groups (dicts) are not supported; pass model.parameters() and "
                "make one SGD per group"
            )
        if not isinstance(param, Parameter):
            raise TypeError(
                f"optimizer can only optimize Parameters, but one of the params is "
                f"{type(param).__name__}; pass model.parameters()"
            )
    if len({id(param) for param in listed}) != len(listed):
        raise ValueError("some parameters appear in more than one parameter group")
    return listed


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def sgd_settings(
    lr: object, momentum: object, dampening: object, weight_decay: object, nesterov: bool
) -> tuple[float, float, float, float]:
    lr, momentum = _real("lr", lr), _real("momentum", momentum)
    dampening, weight_decay = _real("dampening", dampening), _real("weight_decay", weight_decay)
    # The same checks, and messages, as torch.
    if not math.isfinite(lr) or lr < 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not math.isfinite(momentum) or momentum < 0.0:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if not math.isfinite(weight_decay) or weight_decay < 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")
    if not math.isfinite(dampening):
        raise ValueError(f"Invalid dampening value: {dampening}")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    if momentum >= 1.0:
        # torch accepts this silently; a learner deserves to know what it means.
        warnings.warn(
            f"momentum={momentum} >= 1: the velocity never decays, so training "
            "oscillates or diverges; values like 0.9 are usual",
            stacklevel=4,
        )
    return lr, momentum, dampening, weight_decay


def same_keys(mine: Mapping[str, object], theirs: Mapping[str, object]) -> None:
    missing = [key for key in mine if key not in theirs]
    unexpected = [key for key in theirs if key not in mine]
    parts = [f"{kind} key(s) " + ", ".join(map(repr, keys))
             for kind, keys in (("missing", missing), ("unexpected", unexpected)) if keys]  # fmt: skip
    if parts:
        raise KeyError(f"error loading state_dict: {'; '.join(parts)}")


def state_value(key: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, read without importing torch
        value = value.detach().cpu().numpy()
    array = real_array(f"state_dict[{key!r}]", value)
    if array.shape != shape:
        raise ValueError(
            f"size mismatch for {key}: copying a param with shape {array.shape}, "
            f"the shape in the current model is {shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"state_dict[{key!r}] holds NaN or infinite values")
    return array
