"""Classic backprop mistakes, to slip into the reference code and watch gradcheck catch.

Each ``Bug`` is a wrong version of one function of ``scratch_gd/reference`` (the layers
call ``linear_backward``, ``relu_backward`` and ``mse_backward`` by name from their
modules, so replacing the module's function changes what runs), a line saying what the
mistake is, and what gradcheck should then show. ``injected(bug)`` swaps it in for a
``with`` block and always puts the correct function back, even if the block fails::

    with injected(BUGS["mse-no-2"]):
        report = gradcheck(model, x, y)   # every tensor off by a factor 2: error 1/3

``python -m scratch_gd gradcheck --bug NAME`` does exactly that; ``--bug list`` lists them.
docs/debugging.md walks through what each failure looks like, and why.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ..reference import linear, loss, relu
from ..reference.backend import NUMPY, Backend


@dataclass(frozen=True)
class Bug:
    """A wrong ``module.function``, what it gets wrong, and what gradcheck shows for it."""

    name: str
    module: ModuleType
    function: str  # the name the layer looks up in ``module``
    replacement: Callable
    explanation: str  # one line: the mistake
    expect: str  # what the failing check looks like, and why
    # Given the layer sizes and the batch size, why this bug cannot change any gradient
    # there (so no check could catch it), or None when it can.
    cannot_show: Callable[[list[int], int], str | None]


# --- The wrong functions -------------------------------------------------------------------
# Each is the correct function of reference/ with one line changed; the comment marks it.


def relu_backward_without_mask(grad_out: np.ndarray, cache: np.ndarray) -> np.ndarray:
    return grad_out  # BUG: should be grad_out * (out > 0)


def linear_backward_bias_from_one_row(
    grad_out: np.ndarray, cache: np.ndarray, weight: np.ndarray, backend: Backend = NUMPY
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = cache
    grad_x = backend.matmul(grad_out, weight)
    grad_weight = backend.matmul_tn(grad_out, x)
    grad_bias = grad_out[0]  # BUG: should be grad_out.sum(axis=0), over the whole batch
    return grad_x, grad_weight, grad_bias


def linear_backward_weight_transposed(
    grad_out: np.ndarray, cache: np.ndarray, weight: np.ndarray, backend: Backend = NUMPY
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = cache
    grad_x = backend.matmul(grad_out, weight)
    # BUG: x.T @ G is (in, out), the transpose of G.T @ x; reshaped so that += accepts it,
    # as a learner silencing numpy's shape error would.
    grad_weight = backend.matmul_tn(x, grad_out).reshape(weight.shape)
    grad_bias = grad_out.sum(axis=0)
    return grad_x, grad_weight, grad_bias


def mse_backward_without_2(cache: np.ndarray) -> np.ndarray:
    diff = cache
    return diff * diff.dtype.type(1.0 / diff.size)  # BUG: d/dd of d^2 is 2d, not d


def mse_backward_of_the_sum(cache: np.ndarray) -> np.ndarray:
    diff = cache
    return diff * diff.dtype.type(2.0)  # BUG: the gradient of sum((out-y)^2), not its mean


# --- When a bug cannot show ----------------------------------------------------------------


def _needs_hidden_layer(sizes: list[int], batch: int) -> str | None:
    if len(sizes) < 3:
        return "the network has no hidden layer, so no ReLU whose mask could be forgotten"
    return None


def _needs_two_samples(sizes: list[int], batch: int) -> str | None:
    if batch < 2:
        return "with one sample the batch sum is that sample's row, so the bug changes nothing"
    return None


def _needs_a_true_matrix(sizes: list[int], batch: int) -> str | None:
    if all(min(fan_in, fan_out) == 1 for fan_in, fan_out in itertools.pairwise(sizes)):
        return (
            "every weight is a single row or column, whose transpose reshaped back holds "
            "the same numbers, so the bug changes nothing"
        )
    return None


def _needs_more_than_one_output(sizes: list[int], batch: int) -> str | None:
    if batch * sizes[-1] < 2:
        return "the mean of one squared error is the error itself, so the bug changes nothing"
    return None


def _always(sizes: list[int], batch: int) -> str | None:
    return None


BUGS: dict[str, Bug] = {
    bug.name: bug
    for bug in (
        Bug(
            "no-relu-mask",
            relu,
            "relu_backward",
            relu_backward_without_mask,
            "ReLU backward passes every gradient through, forgetting the mask out > 0",
            "the last Linear's weight and bias pass (nothing ReLU does reaches them); every "
            "tensor before the last ReLU fails, from the layer under it down to the input",
            _needs_hidden_layer,
        ),
        Bug(
            "bias-not-summed",
            linear,
            "linear_backward",
            linear_backward_bias_from_one_row,
            "bias gradient from the batch's first row, grad_out[0], not grad_out.sum(axis=0)",
            "every bias fails and everything else passes: the bias gradient feeds no other "
            "tensor's gradient",
            _needs_two_samples,
        ),
        Bug(
            "mse-no-2",
            loss,
            "mse_backward",
            mse_backward_without_2,
            "MSE gradient (out - y) / M without the 2 that the square brings down",
            "every tensor fails with relative error exactly 1/3 = |g/2 - g| / (|g/2| + |g|): "
            "backprop is linear in dL/d(out), so halving it halves every gradient",
            _always,
        ),
        Bug(
            "mse-sum-not-mean",
            loss,
            "mse_backward",
            mse_backward_of_the_sum,
            "MSE gradient 2 (out - y), the gradient of the summed loss, against the mean loss",
            "every tensor fails with the same error (M - 1) / (M + 1), M the number of "
            "outputs checked (16 samples: 15/17 = 0.88): every gradient is M times too big",
            _needs_more_than_one_output,
        ),
        Bug(
            "weight-grad-transposed",
            linear,
            "linear_backward",
            linear_backward_weight_transposed,
            "weight gradient x.T @ G, (in, out), reshaped to fit, instead of G.T @ x, (out, in)",
            "only weights that are true matrices fail (weight2, 32 x 32, on the lesson's "
            "network); a (32, 1) or (1, 32) weight is a vector, whose transpose reshaped back "
            "is itself. Without the reshape numpy would refuse those at once, but a square "
            "weight takes the transpose silently",
            _needs_a_true_matrix,
        ),
    )
}


def bug_list() -> str:
    """One line per bug: its name and the mistake it makes."""
    width = max(map(len, BUGS))
    return "\n".join(f"{bug.name:<{width}}  {bug.explanation}" for bug in BUGS.values())


@contextmanager
def injected(bug: Bug) -> Iterator[Bug]:
    """Replace ``bug.module.<bug.function>`` by the wrong one inside the block; always restore."""
    correct = getattr(bug.module, bug.function)
    setattr(bug.module, bug.function, bug.replacement)
    try:
        yield bug
    finally:
        setattr(bug.module, bug.function, correct)
