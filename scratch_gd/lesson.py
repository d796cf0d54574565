"""The lesson's PyTorch script, line for line on scratch_gd: ``python -m scratch_gd.lesson``.

Same data, network, loss, optimiser, regimes and loop (zero_grad, forward, loss, backward,
step) as the lesson; docs/lesson.md sets the two scripts side by side. Where the lesson
shows a figure, this writes it: ``--out`` (default runs/lesson/) gets one PNG per regime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files, open no windows
import matplotlib.pyplot as plt
from tqdm import tqdm

import scratch_gd as sg
from scratch_gd.store.files import atomic_write

x, y = sg.lesson_data(n=1000, seed=0)  # seed 0, linspace(-5, 5), 0.3 x^2 + randn, (n, 1)


def train(batch_size: int, momentum: float, name: str, steps: int, out: Path) -> list[float]:
    """One regime: ``steps`` updates, each on the first batch of a fresh shuffle."""
    model = sg.MLP([1, 32, 32, 1])  # Linear, ReLU, Linear, ReLU, Linear; torch's init
    loss_fn = sg.MSELoss()
    optimizer = sg.SGD(model.parameters(), lr=1e-4, momentum=momentum)
    sampler = sg.BatchSampler(len(x), batch_size, seed=0)  # shuffle, take the first batch
    losses = []
    for _epoch, batch in zip(tqdm(range(steps), desc=name), sampler.batches(steps), strict=True):
        xb, yb = x[batch], y[batch]
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        model.backward(loss_fn.backward())  # torch: loss.backward()
        optimizer.step()
        losses.append(loss)  # torch: loss.item()

    figure, axes = plt.subplots()
    axes.plot(losses)
    axes.set_ylim(0, 15)
    axes.set_xlabel("Epoch")  # the lesson's word; each "epoch" is one step
    axes.set_ylabel("Loss")
    axes.set_title(f"{name}: batch {batch_size}, momentum {momentum:g}, lr 1e-4")
    atomic_write(out / f"{name}.png", lambda file: figure.savefig(file, format="png"))
    plt.close(figure)
    return losses


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(prog="python -m scratch_gd.lesson", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/lesson"), help="figure folder")
    parser.add_argument("--steps", type=int, default=1000, help="steps per regime (1000)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"argument --steps: {args.steps} must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    return {
        "Batch": train(1000, 1, "Batch", args.steps, args.out),
        "Stochastic": train(1, 0, "Stochastic", args.steps, args.out),
        "Minibatch": train(128, 1, "Minibatch", args.steps, args.out),
    }


if __name__ == "__main__":
    main()
