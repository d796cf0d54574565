"""How the lab judges a run: diverged, stuck at a constant, or below the noise floor.

One rule for each, used by every experiment and figure:

* **Diverged**: a loss or a weight stopped being finite during training, or the run
  *ended* with a full-data loss above ``DIVERGED_FACTOR`` times the loss of its initial
  weights. A run that ends twice as far from the data as it started has not learned;
  "diverged" covers it as much as a run that overflowed to infinity.
* **Stuck**: the network predicts (almost) the same number for every input. Typically
  every ReLU of some layer is off for every sample, so no gradient flows back through
  them ever again. A constant c has loss Var(y) + (c - mean(y))^2, so a stuck run's loss
  sits at or above the variance of the target, ``target_variance(y)``.
* **The noise floor** (lesson data only): the lesson makes its targets as
  y = 0.3 x^2 + noise, so the true curve itself has loss mean((y - 0.3 x^2)^2) on this
  data: the mean square of the noise drawn, about 0.976 for the lesson's 1000 samples. A
  network with a lower loss than the true curve is fitting the noise of these particular
  samples, not the curve: it would do worse on fresh samples.
"""

from __future__ import annotations

import math

import numpy as np

DIVERGED_FACTOR = 2.0  # ended above this many times the initial full-data loss: diverged
CONSTANT_SPREAD = 1e-6  # predictions whose std is below this share of the target's: stuck
LESSON_CURVE = 0.3  # the lesson's true curve is LESSON_CURVE * x^2
LESSON_RANGE = (-5.0, 5.0)  # ... on evenly spaced x over this range

DIVERGED_RULE = (
    "diverged = a loss or weight stopped being finite, or the final full-data loss is above "
    f"{DIVERGED_FACTOR:g}x the initial one"
)
STUCK_RULE = "stuck = predicts a constant, so its loss is at least Var(y)"


def diverged(final_loss: float, initial_loss: float, *, stopped: bool = False) -> bool:
    """The lab's one rule: ``stopped`` (training hit a non-finite loss or weight), a final
    loss that is not finite, or one above ``DIVERGED_FACTOR`` x the initial loss."""
    if stopped or not math.isfinite(final_loss):
        return True
    return math.isfinite(initial_loss) and final_loss > DIVERGED_FACTOR * initial_loss


def predicts_a_constant(model, x: np.ndarray, y: np.ndarray) -> bool:
    """True when the predictions over x hardly vary (std below ``CONSTANT_SPREAD`` times
    the target's): the network is stuck at a constant prediction."""
    from .race import predict  # race imports this module's rule

    with np.errstate(all="ignore"):  # a run about to diverge may overflow here
        spread = float(np.std(predict(model, x), dtype=np.float64))
    return bool(spread <= CONSTANT_SPREAD * float(np.std(y, dtype=np.float64)))


def target_variance(y: np.ndarray) -> float:
    """Var(y) over all outputs: the lowest loss a constant prediction can have."""
    return float(np.var(np.asarray(y, dtype=np.float64)))


def is_lesson_grid(x: np.ndarray) -> bool:
    """Whether x is the lesson's input: one column, evenly spaced over [-5, 5]."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 1 or len(x) < 2:
        return False
    grid = np.linspace(*LESSON_RANGE, len(x)).astype(x.dtype)
    return bool(np.array_equal(x[:, 0], grid))


def noise_floor(x: np.ndarray, y: np.ndarray, *, lesson: bool | None = None) -> float | None:
    """The loss of the lesson's true curve 0.3 x^2 on (x, y), in float64; None when the
    data is not the lesson's (its true curve is unknown).

    ``lesson`` says whether it is; None recognises the lesson's data by its x grid (the
    whole data set, nothing held out). Computed from the data, never assumed: about 0.976
    for the lesson's 1000 samples, seed 0.
    """
    if lesson is None:
        lesson = is_lesson_grid(x)
    if not lesson:
        return None
    inputs = np.asarray(x, dtype=np.float64)[:, 0]
    targets = np.asarray(y, dtype=np.float64)[:, 0]
    return float(np.mean(np.square(targets - LESSON_CURVE * inputs**2)))


def dataset_noise_floor(dataset) -> float | None:
    """``noise_floor`` of a ``Dataset``'s training rows: lesson data is known by its name."""
    if dataset.name != "lesson":
        return None
    return noise_floor(dataset.x_train, dataset.y_train, lesson=True)


def floor_label(floor: float) -> str:
    return f"noise floor {floor:.3f}: the true curve's loss (a full-data loss below it fits noise)"


def draw_floor(ax, floor: float | None, *, label: bool = True) -> None:
    """The noise floor as a horizontal line on a loss axis (nothing for other data)."""
    if floor is None:
        return
    ax.axhline(
        floor,
        color="black",
        linestyle=(0, (6, 3)),
        linewidth=1.0,
        alpha=0.8,
        label=floor_label(floor) if label else None,
        zorder=1.5,
    )
