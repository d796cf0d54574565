"""What a training run records: loss, samples seen and time, step by step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Evaluation:
    """A look at the model during training, made with the training clock paused."""

    step: int  # optimiser steps taken before this evaluation
    samples_seen: int
    seconds: float  # training time so far, evaluation time excluded
    metrics: dict[str, float]


@dataclass
class History:
    """The record of one run; arrays have one entry per step taken.

    ``loss[k]`` is the loss of the batch used at step k, measured *before* that step's
    update (as the lesson records it). ``samples_seen[k]`` counts samples used up to and
    including step k; ``seconds[k]`` is the wall-clock time since training started.
    """

    loss: np.ndarray
    samples_seen: np.ndarray
    seconds: np.ndarray
    batch_size: int
    n_samples: int
    sampling: str
    engine: str
    diverged_at: int | None = None  # the step whose loss was not finite, if any
    interrupted: bool = False
    info: dict = field(default_factory=dict)
    evaluations: list[Evaluation] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.loss)

    @property
    def epochs(self) -> float:
        """Passes over the data: samples seen divided by the data size."""
        seen = int(self.samples_seen[-1]) if self.steps else 0
        return seen / self.n_samples

    @property
    def total_seconds(self) -> float:
        return float(self.seconds[-1]) if self.steps else 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.total_seconds if self.total_seconds > 0 else float("inf")

    def summary(self) -> str:
        return (
            f"{self.steps} steps of batch {self.batch_size} ({self.sampling} sampling, "
            f"{self.engine} engine): {int(self.samples_seen[-1]) if self.steps else 0} "
            f"samples seen = {self.epochs:.2f} epochs of {self.n_samples}"
        )
