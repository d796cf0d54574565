"""Race the three regimes of the lesson: full-batch GD, stochastic GD and mini-batch SGD.

Also how a run is judged: the loss over *all* the training data (``loss_evaluator``),
measured with the clock paused. The lab's experiments (``scratch_gd/lab/``) use it too.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..reference.mlp import MLP
from ..reference.sgd import SGD
from ..run.history import History
from ..run.train import train
from ..store.datasets import Dataset
from . import verdict
from .painter import FigureJob, Painter, paint

FULL_LOSS = "full_loss"  # metric name: the loss over every training sample
VALIDATION_LOSS = "validation_loss"  # metric name: the loss over the held-out samples
EVALUATION_ROWS = 256  # the model runs over all the data this many rows at a time


def regime_name(batch_size: int, n_samples: int) -> str:
    """The batch size decides the regime (momentum does not): all data, one sample, or some."""
    if batch_size >= n_samples:
        return "Batch"
    if batch_size == 1:
        return "Stochastic"
    return f"Minibatch ({batch_size})"


@dataclass
class RegimeConfig:
    batch_size: int
    momentum: float
    lr: float

    def name(self, n_samples: int) -> str:
        return regime_name(self.batch_size, n_samples)


@dataclass
class RegimeResult:
    name: str
    config: RegimeConfig
    history: History
    model: MLP
    full_loss: float  # loss over the whole training data after training
    validation_loss: float | None = None  # loss over the held-out data, if any was held out
    noise_floor: float | None = None  # the true curve's loss on the data (lesson only)


# --- Measuring the loss over all the data (the lab's experiments use these too) --------------


def predict(model: MLP, x: np.ndarray) -> np.ndarray:
    """``model(x)``, computed ``EVALUATION_ROWS`` rows at a time.

    The answer is the same; the speed is not. A product of 256 x 32 by 32 x 32 is small
    enough for OpenBLAS to run on one thread, while a 1000-row one gets two threads that,
    on a busy two-core machine, spend most of their time waiting for each other
    (measured under load: 8 ms against 0.13 ms per product).
    """
    return np.concatenate(
        [model(x[start : start + EVALUATION_ROWS]) for start in range(0, len(x), EVALUATION_ROWS)]
    )


def full_data_loss(model: MLP, x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of ``model`` over all of (x, y), accumulated in float64.

    A loss beyond the largest number of the model's dtype is ``inf``, as the training loss
    (computed in that dtype) would be: a float32 network that blew up reports inf, not a
    46-digit number its own arithmetic could never produce.
    """
    loss = float(np.mean(np.square(predict(model, x) - y, dtype=np.float64)))
    return math.inf if loss > np.finfo(model.dtype).max else loss


def loss_evaluator(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
) -> Callable[[MLP], dict[str, float]]:
    """``evaluate(model)`` for ``train()``: the loss over all the training data
    (``FULL_LOSS``), and over the validation data (``VALIDATION_LOSS``) when it is given.

    The batch loss a step records depends on which samples that step drew; these losses do
    not, so they are the fair way to compare regimes whose batches differ.
    """

    def evaluate(model: MLP) -> dict[str, float]:
        with np.errstate(all="ignore"):  # a run on its way to diverging may overflow: inf
            metrics = {FULL_LOSS: full_data_loss(model, x, y)}
            if x_val is not None and y_val is not None:
                metrics[VALIDATION_LOSS] = full_data_loss(model, x_val, y_val)
        return metrics

    return evaluate


# --- One regime's run --------------------------------------------------------------------------


def new_run(
    lr: float,
    *,
    sizes: Sequence[int],
    momentum: float,
    seed: int,
    dtype: np.dtype | str,
    options: dict | None = None,
    backend: str = "numba",
) -> tuple[MLP, SGD]:
    """A fresh network, with the initial weights ``seed`` gives (the same for every run),
    and the SGD that trains it; ``options`` go to ``SGD`` (dampening, weight_decay, ...)."""
    model = MLP(sizes, dtype=dtype, seed=seed, backend=backend)
    with warnings.catch_warnings():
        # Momentum >= 1 is asked for on purpose in the experiments, and the CLI says so.
        warnings.simplefilter("ignore")
        optimizer = SGD(model.parameters(), lr=lr, momentum=momentum, **(options or {}))
    return model, optimizer


def run_regime(
    config: RegimeConfig,
    x: np.ndarray,
    y: np.ndarray,
    *,
    sizes: list[int],
    steps: int,
    seed: int,
    dtype: np.dtype,
    sampling: str = "lesson",
    progress: bool = True,
    sgd_options: dict | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    eval_every: int | None = None,
    engine: str = "layers",
    backend: str = "numba",
    watch: Callable[[MLP], None] | None = None,
) -> RegimeResult:
    """Train a fresh MLP (the same initial weights for every regime, from ``seed``).

    ``sgd_options`` go to ``SGD`` (dampening, weight_decay, nesterov). With ``eval_every``,
    the full-data loss (and the validation loss, given ``x_val``/``y_val``) is measured
    every that many steps with the training clock paused, into ``history.evaluations``.
    ``watch(model)``, if given, is called at each of those evaluations, also with the clock
    paused: once per entry of ``history.evaluations``, in order (to film or trace the run).
    """
    name = config.name(len(x))
    model, optimizer = new_run(
        config.lr,
        sizes=sizes,
        momentum=config.momentum,
        seed=seed,
        dtype=dtype,
        options=sgd_options,
        backend=backend,
    )
    evaluate = loss_evaluator(x, y, x_val, y_val)

    def look(model: MLP) -> dict[str, float]:
        if watch is not None:
            watch(model)
        return evaluate(model)

    history = train(
        model,
        optimizer,
        x,
        y,
        batch_size=min(config.batch_size, len(x)),
        steps=steps,
        seed=seed,
        sampling=sampling,
        progress=progress,
        desc=name,
        evaluate=look if eval_every else None,
        eval_every=eval_every,
        engine=engine,
    )
    final = evaluate(model)  # inf or NaN for a diverged model: reported as it is
    return RegimeResult(name, config, history, model, final[FULL_LOSS], final.get(VALIDATION_LOSS))


def number_text(value: float, digits: int = 4) -> str:
    """A loss or rate for a table, never wider than ``digits + 6`` characters.

    Fixed point with ``digits`` decimals from 0.001 up to 10^5 (losses are compared at
    that precision), scientific notation outside that range (a blow-up to 2.3e+40 prints
    as such, not as 41 digits), and "inf" or "nan" as they are.
    """
    value = float(value)
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.{digits}f}"
    return f"{value:.{max(1, digits - 2)}e}"


def summary_table(results: list[RegimeResult]) -> str:
    """A plain-text table: one row per regime, every column of bounded width."""
    with_validation = any(result.validation_loss is not None for result in results)
    header = (
        f"{'regime':<18} {'batch':>6} {'momentum':>8} {'steps':>6} {'steps/s':>9} "
        f"{'last batch loss':>15} {'full-data loss':>14}"
        + (f" {'validation loss':>15}" if with_validation else "")
        + f" {'samples seen':>12} {'epochs':>8}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        history = result.history
        last = number_text(history.loss[-1]) if history.steps else "-"
        validation = (
            f" {number_text(result.validation_loss):>15}"
            if result.validation_loss is not None
            else (f" {'-':>15}" if with_validation else "")
        )
        rate = history.steps_per_second
        rate_text = f"{rate:.0f}" if math.isfinite(rate) and rate < 1e9 else number_text(rate, 2)
        lines.append(
            f"{result.name[:18]:<18} {history.batch_size:>6} {result.config.momentum:>8g} "
            f"{history.steps:>6} {rate_text:>9} {last:>15} "
            f"{number_text(result.full_loss):>14}{validation} "
            f"{int(history.samples_seen[-1]) if history.steps else 0:>12} {history.epochs:>8.2f}"
        )
    return "\n".join(lines)


# --- The race's figures ----------------------------------------------------------------------
# Planned here, drawn by ``race_plots.py``: the plan names each drawing function, so the
# training process never loads matplotlib (``painter.py`` draws them in its workers).

PLOTS = "scratch_gd.lab.race_plots"


def figure_job(file: str, function: str, *args: object, **kwargs: object) -> FigureJob:
    """The job of drawing ``file`` with ``race_plots.<function>(*args, **kwargs)``."""
    return FigureJob(file, f"{PLOTS}:{function}", args, kwargs)


def slug(name: str) -> str:
    """'Minibatch (128)' -> 'minibatch128': a file-name-safe form of a regime name."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def fits_input(dataset: Dataset) -> np.ndarray:
    """The training inputs in increasing order: where a fits figure draws each network."""
    return np.sort(dataset.x_train, axis=0)


def predictions_input(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, bool]:
    """(x, y, held out): the validation data when some was held out, else the training data."""
    held_out = dataset.x_val is not None and dataset.y_val is not None
    if held_out:
        return dataset.x_val, dataset.y_val, True
    return dataset.x_train, dataset.y_train, False


def compare_figures(results: list[RegimeResult], dataset: Dataset) -> list[FigureJob]:
    """Every figure of a comparison, by file name.

    The lesson-style figures (batch loss per step on the lesson's fixed 0..15 axis) are
    drawn for the lesson's data only; a curve over the input needs one input column, so
    wider data gets a predicted-against-true figure instead. What the networks predict
    is computed here, where the networks are.
    """
    floor = verdict.dataset_noise_floor(dataset)
    if dataset.n_features == 1:
        file, function, grid = "compare_fits.png", "fits_figure", fits_input(dataset)
    else:
        file, function = "compare_predictions.png", "predictions_figure"
        grid = predictions_input(dataset)[0]
    predictions = [predict(result.model, grid) for result in results]
    # The comparisons first, longest first, so that two workers end together; the lesson
    # figures of all but the last regime may already be drawn (``compare`` starts each
    # one while the next regime trains).
    return [
        figure_job("compare_steps.png", "overlay_figure", results, floor=floor),
        figure_job(file, function, results, dataset, predictions),
        figure_job("compare_samples.png", "samples_figure", results, floor=floor),
        figure_job("compare_time.png", "time_figure", results, floor=floor),
        *lesson_figures(results, dataset),
    ]


def lesson_figures(results: list[RegimeResult], dataset: Dataset) -> list[FigureJob]:
    """The lesson-style figure of each regime, for the lesson's data (none for others)."""
    if dataset.name != "lesson":
        return []
    jobs, used = [], set()
    floor = verdict.dataset_noise_floor(dataset)
    for index, result in enumerate(results):
        name = slug(result.name)
        name = f"{name}_{index + 1}" if name in used else name  # two regimes, same batch
        used.add(name)
        jobs.append(figure_job(f"lesson_{name}.png", "lesson_figure", result, floor=floor))
    return jobs


def write_compare_figures(
    results: list[RegimeResult],
    dataset: Dataset,
    out: Path,
    painter: Painter | None = None,
    jobs: list[FigureJob] | None = None,
) -> list[Path]:
    """Draw every figure of a comparison into ``out`` (in ``painter``'s workers, if given);
    returns the paths written. ``jobs``: the figures ``compare_figures`` planned already,
    if the painter was started on them early."""
    return paint(compare_figures(results, dataset) if jobs is None else jobs, out, painter)
