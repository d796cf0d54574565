"""Race the three regimes of the lesson: full-batch GD, stochastic GD and mini-batch SGD."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .history import History
from .loss import MSELoss
from .mlp import MLP
from .sgd import SGD
from .train import train


@dataclass
class RegimeConfig:
    batch_size: int
    momentum: float
    lr: float

    def name(self, n_samples: int) -> str:
        if self.batch_size >= n_samples:
            return "Batch"
        if self.batch_size == 1:
            return "Stochastic"
        return f"Minibatch ({self.batch_size})"


@dataclass
class RegimeResult:
    name: str
    config: RegimeConfig
    history: History
    model: MLP
    full_loss: float  # loss over the whole data set after training


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
) -> RegimeResult:
    """Train a fresh MLP (the same initial weights for every regime, from ``seed``)."""
    name = config.name(len(x))
    model = MLP(sizes, dtype=dtype, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # momentum 1 is the lesson's choice; the CLI says so
        optimizer = SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
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
    )
    full_loss = MSELoss()(model(x), y.astype(model.dtype))
    return RegimeResult(name, config, history, model, full_loss)


def summary_table(results: list[RegimeResult]) -> str:
    """A plain-text table: one row per regime."""
    header = (
        f"{'regime':<18} {'batch':>6} {'momentum':>8} {'steps':>6} {'steps/s':>9} "
        f"{'last batch loss':>15} {'full-data loss':>14} {'samples seen':>12} {'epochs':>8}"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        history = result.history
        last = f"{history.loss[-1]:.4f}" if history.steps else "-"
        lines.append(
            f"{result.name:<18} {history.batch_size:>6} {result.config.momentum:>8g} "
            f"{history.steps:>6} {history.steps_per_second:>9.0f} {last:>15} "
            f"{result.full_loss:>14.4f} {int(history.samples_seen[-1]) if history.steps else 0:>12}"
            f" {history.epochs:>8.2f}"
        )
    return "\n".join(lines)
