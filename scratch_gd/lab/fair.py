"""A fair race between full-batch GD, stochastic GD and mini-batch SGD.

The lesson compares the regimes by the loss of each step's own batch, with one seed and
one learning rate for all. That is unfair three ways, and this module fixes each:

1. **What is measured.** A batch loss depends on which samples the step drew: a batch of
   one can be lucky or unlucky by a factor of ten. Here every regime is judged by the loss
   over *all* the training data (and over held-out validation data, when there is some),
   measured every ``eval_every`` steps with the training clock paused, so measuring costs
   no regime any time.
2. **The learning rate.** The best learning rate differs between regimes: a full batch
   gives an exact gradient and tolerates large steps; one sample gives a noisy gradient
   that large steps amplify. Each regime gets its own, picked by a small sweep: one run
   per candidate; the lowest full-data loss over the last fifth of the run wins (the mean
   of its evaluations there: a single final value of a noisy run is partly luck), and
   diverged runs are out. The sweep runs on its own seed, not one of the race's, so the
   race does not reward a learning rate for suiting the very batches it was picked on.
3. **Luck.** One seed is one draw of initial weights and batches. The race repeats over
   several seeds and reports the median and the range (min to max).

What the clock counts: the training steps and the bookkeeping between chunks of steps,
not the evaluations. ``train`` hands steps to its engine in chunks that end at each
evaluation, and each chunk costs a little fixed time; every regime gets the same number of
evaluations, so the same number of chunks, but that fixed cost weighs most on the
cheapest steps (batch 1).

What the clock never counts: one-time costs. Compiling or loading the kernels, and the
first call of each, would land on whichever run happens to come first, and make a regime
look slow for a reason that has nothing to do with its batch size. So before the race
every regime trains a few untimed warm-up steps (``warm_up``), and ``train`` runs one more
step off the clock before each run. The compiled engine would also try one thread against
two during a run, and those trials stall the first chunks (37.7 ms for 20 steps against a
2.7 ms median, in one measurement). And a product threaded over two cores of a busy
machine spends most of its time waiting for the other thread: measured on the 2-core
build machine under load, 300 full-batch steps of the reference loop took 1.7 to 6.5 s on
two threads and 0.3 s on one, a luck of the machine that would decide the race. So the
race runs every regime on one thread (``numba.set_num_threads(1)`` and
``scratch_gd.engine.compiled.THREADS = 1`` while it runs, restored after) and says so.

A run is *diverged* by the lab's one rule (``verdict.py``): a loss or weight stopped being
finite, or its final full-data loss is above ``verdict.DIVERGED_FACTOR`` times the initial
one. A sweep point that ends predicting a constant is marked *stuck*.

Within a seed every regime starts from the same initial weights and draws its batches
from the same seeded generator; the data is the same for all. Momentum is the same for
every regime too (0.9 by default), so it is not what differs.

Everything here returns numbers; ``fair_plots`` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..store.datasets import Dataset
from . import verdict
from .race import FULL_LOSS, VALIDATION_LOSS, RegimeConfig, RegimeResult, run_regime
from .threads import one_thread

FAIR_MOMENTUM = 0.9  # the same for every regime: effective step lr / (1 - 0.9) = 10 lr
# Half a decade apart, wide enough that on the lesson's data every regime's best lies inside
# (batch 1 at 1e-4, batch 128 at 1e-3, the full batch at 3e-2; see README for the command).
DEFAULT_LRS = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
DEFAULT_SEEDS = 5
DEFAULT_STEPS = 1000
EVALUATIONS_PER_RUN = 50  # eval_every defaults to steps // this
SWEEP_EVALUATIONS = 20  # a sweep run is judged by its evaluations in the last ...
SWEEP_TAIL = 0.2  # ... fifth of its steps
WARM_UP_STEPS = 3  # untimed steps per regime before the race, to pay one-time costs
RACE_THREADS = 1  # Numba's threads during the race, for every regime: no 1-vs-2 trials


class NoStableLearningRate(ValueError):
    """Every candidate learning rate diverged for some regime (``run_fair`` sets ``sweep``)."""

    sweep: list[SweepPoint]


@dataclass
class FairSettings:
    """Everything the race holds fixed across regimes."""

    sizes: list[int]
    steps: int = DEFAULT_STEPS
    seeds: list[int] = field(default_factory=lambda: list(range(DEFAULT_SEEDS)))
    sweep_seed: int = DEFAULT_SEEDS  # one past the race seeds unless told otherwise
    sweep_steps: int | None = None  # None: as long as the race (the best lr depends on it)
    lrs: Sequence[float] = DEFAULT_LRS
    eval_every: int | None = None  # None: steps // EVALUATIONS_PER_RUN
    dtype: str = "float32"
    sampling: str = "lesson"
    sgd_options: dict = field(default_factory=dict)
    engine: str = "layers"
    backend: str = "numba"

    def evaluation_interval(self, steps: int) -> int:
        return self.eval_every or max(1, steps // EVALUATIONS_PER_RUN)


@dataclass
class SweepPoint:
    """One sweep run: a regime at one learning rate."""

    regime: str
    batch_size: int
    momentum: float
    lr: float
    full_loss: float  # after the sweep's last step; inf when the run diverged
    tail_loss: float  # mean over the evaluations in the last SWEEP_TAIL of the run; inf if diverged
    diverged: bool  # by verdict.diverged: not finite, or ended above DIVERGED_FACTOR x initial
    stuck: bool = False  # ended predicting a constant (its loss at least Var(y))


@dataclass
class Curve:
    """One regime's evaluations over the seeds, evaluation by evaluation.

    ``steps`` and ``samples_seen`` are the same for every seed; ``seconds`` is the median
    over seeds of the training time at each evaluation. ``median``/``low``/``high`` map a
    metric name to its median, minimum and maximum over the seeds that got that far (a
    diverged seed stops early).
    """

    regime: str
    lr: float
    steps: np.ndarray
    samples_seen: np.ndarray
    seconds: np.ndarray
    median: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    seeds_reporting: np.ndarray  # how many seeds contributed to each evaluation


@dataclass
class FairResult:
    sweep: list[SweepPoint]
    chosen: dict[str, SweepPoint]  # regime name -> the winning sweep point
    runs: dict[str, list[RegimeResult]]  # regime name -> one result per race seed
    settings: FairSettings
    seeds: list[int]  # the race seeds every regime finished (all of them, unless Ctrl-C)
    interrupted: bool = False


def train_once(
    dataset: Dataset,
    config: RegimeConfig,
    settings: FairSettings,
    *,
    seed: int,
    steps: int,
    eval_every: int | None = None,
    progress: bool = False,
) -> RegimeResult:
    """One run of one regime, evaluated every ``eval_every`` steps (default
    ``settings.evaluation_interval``); ``result.noise_floor`` is the data's (lesson only).

    Overflow warnings are silenced: a sweep is meant to find where learning rates diverge,
    and a diverged run is reported as such (``is_diverged``), not as a NumPy warning.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = run_regime(
            config,
            dataset.x_train,
            dataset.y_train,
            sizes=settings.sizes,
            steps=steps,
            seed=seed,
            dtype=np.dtype(settings.dtype),
            sampling=settings.sampling,
            progress=progress,
            sgd_options=settings.sgd_options,
            x_val=dataset.x_val,
            y_val=dataset.y_val,
            eval_every=eval_every or settings.evaluation_interval(steps),
            engine=settings.engine,
            backend=settings.backend,
        )
    result.noise_floor = verdict.dataset_noise_floor(dataset)
    return result


def initial_loss(result: RegimeResult) -> float:
    """The full-data loss before the first step (the evaluation at step 0); inf if unknown."""
    evaluations = result.history.evaluations
    if evaluations and evaluations[0].step == 0:
        return float(evaluations[0].metrics[FULL_LOSS])
    return math.inf


def is_diverged(result: RegimeResult) -> bool:
    """The lab's rule (``verdict.diverged``) on this run's final and initial full-data loss."""
    return verdict.diverged(
        float(result.full_loss),
        initial_loss(result),
        stopped=result.history.diverged_at is not None,
    )


def sweep_learning_rates(
    dataset: Dataset,
    regimes: Sequence[tuple[int, float]],
    settings: FairSettings,
    *,
    progress: bool = False,
) -> list[SweepPoint]:
    """Train each (batch size, momentum) regime once per candidate learning rate.

    Untimed, but on one thread like the race (``race_threads``): the losses are the same
    bit for bit on any number of threads, and one thread is the faster on a busy machine.
    """
    with race_threads():
        return _sweep(dataset, regimes, settings, progress=progress)


def _sweep(
    dataset: Dataset,
    regimes: Sequence[tuple[int, float]],
    settings: FairSettings,
    *,
    progress: bool = False,
) -> list[SweepPoint]:
    steps = settings.sweep_steps or settings.steps
    points = []
    for batch_size, momentum in regimes:
        for lr in settings.lrs:
            config = RegimeConfig(batch_size, momentum, float(lr))
            result = train_once(
                dataset,
                config,
                settings,
                seed=settings.sweep_seed,
                steps=steps,
                eval_every=max(1, steps // SWEEP_EVALUATIONS),
                progress=progress,
            )
            if result.history.interrupted:  # Ctrl-C: no learning rate can be chosen now
                raise KeyboardInterrupt
            diverged = is_diverged(result)
            stuck = not diverged and verdict.predicts_a_constant(
                result.model, dataset.x_train, dataset.y_train
            )
            points.append(
                SweepPoint(
                    result.name,
                    batch_size,
                    momentum,
                    float(lr),
                    float(result.full_loss),
                    math.inf if diverged else tail_loss(result, steps),
                    diverged,
                    stuck,
                )
            )
    return points


def tail_loss(result: RegimeResult, steps: int) -> float:
    """Mean full-data loss over the evaluations in the last ``SWEEP_TAIL`` of the steps."""
    tail = [
        e.metrics[FULL_LOSS]
        for e in result.history.evaluations
        if e.step >= steps * (1 - SWEEP_TAIL)
    ]
    return float(np.mean(tail)) if tail else float(result.full_loss)


def choose_learning_rates(points: Sequence[SweepPoint]) -> dict[str, SweepPoint]:
    """Per regime, the sweep point with the lowest tail loss that neither diverged nor got
    stuck at a constant."""
    chosen: dict[str, SweepPoint] = {}
    for regime in dict.fromkeys(point.regime for point in points):
        stable = [p for p in points if p.regime == regime and not p.diverged]
        stable = [p for p in stable if not p.stuck] or stable
        if not stable:
            tried = ", ".join(f"{p.lr:g}" for p in points if p.regime == regime)
            raise NoStableLearningRate(
                f"every learning rate diverged for {regime} (tried {tried}); "
                "add smaller ones with --lrs"
            )
        chosen[regime] = min(stable, key=lambda point: point.tail_loss)
    return chosen


def at_grid_edge(points: Sequence[SweepPoint], chosen: SweepPoint) -> str | None:
    """'smallest' or 'largest' when the winner is at the end of the grid (widen it), else None."""
    lrs = sorted(p.lr for p in points if p.regime == chosen.regime)
    if len(lrs) > 1 and chosen.lr == lrs[0]:
        return "smallest"
    if len(lrs) > 1 and chosen.lr == lrs[-1]:
        return "largest"
    return None


def race(
    dataset: Dataset,
    chosen: dict[str, SweepPoint],
    settings: FairSettings,
    *,
    progress: bool = False,
) -> tuple[dict[str, list[RegimeResult]], bool]:
    """Every regime at its chosen learning rate, once per seed; and whether Ctrl-C stopped it.

    Seeds are the outer loop, so the regimes of one seed run back to back on a machine in
    the same state, and a slow moment on a shared computer hits every regime alike. After
    Ctrl-C, only the seeds every regime finished are kept.

    One-time costs stay off the clock: every regime first trains ``WARM_UP_STEPS``
    untimed steps (``warm_up``); and every regime runs on ``RACE_THREADS`` thread
    (``race_threads``), so no thread trial or waiting thread lands on a timed step.
    """
    runs: dict[str, list[RegimeResult]] = {regime: [] for regime in chosen}
    try:
        with race_threads():
            if warm_up(dataset, chosen, settings):
                return runs, True
            for seed in settings.seeds:
                finished = {}
                for regime, point in chosen.items():
                    config = RegimeConfig(point.batch_size, point.momentum, point.lr)
                    result = train_once(
                        dataset, config, settings, seed=seed, steps=settings.steps,
                        progress=progress,
                    )  # fmt: skip
                    if result.history.interrupted:
                        return runs, True
                    finished[regime] = result
                for regime, result in finished.items():
                    runs[regime].append(result)
    except KeyboardInterrupt:  # between two runs' training loops: the seeds done are kept
        return runs, True
    return runs, False


def race_threads():
    """Every regime on ``RACE_THREADS`` = 1 Numba thread inside (``threads.one_thread``).

    ``compiled.THREADS`` stops the compiled engine's one-against-two-threads trials (a
    trial's slow chunk would land on the clock); ``numba.set_num_threads`` keeps the
    kernels of the reference loop from splitting a product over cores that other work on
    the machine is using.
    """
    return one_thread()


def warm_up(dataset: Dataset, chosen: dict[str, SweepPoint], settings: FairSettings) -> bool:
    """A few untimed steps of every regime, so that compiling, loading and first calls are
    paid before any timed run. Returns True on Ctrl-C."""
    for point in chosen.values():
        config = RegimeConfig(point.batch_size, point.momentum, point.lr)
        steps = min(WARM_UP_STEPS, settings.steps)
        result = train_once(dataset, config, settings, seed=settings.sweep_seed, steps=steps)
        if result.history.interrupted:
            return True
    return False


def clock_note(settings: FairSettings) -> str:
    """What the race's clock leaves out, said beside its times."""
    note = (
        "clock: training steps only; evaluations and one-time costs (compiling, first calls; "
        f"{WARM_UP_STEPS} untimed warm-up steps per regime) are off it; every regime on "
        f"{RACE_THREADS} thread (numba.set_num_threads({RACE_THREADS})"
    )
    if settings.engine == "compiled":
        note += f", scratch_gd.engine.compiled.THREADS = {RACE_THREADS}: no thread trials"
    return note + ")"


def run_fair(
    dataset: Dataset,
    regimes: Sequence[tuple[int, float]],
    settings: FairSettings,
    *,
    progress: bool = False,
    on_sweep: Callable[[list[SweepPoint], dict[str, SweepPoint]], None] | None = None,
) -> FairResult:
    """The whole fair comparison: sweep, choose, race.

    ``on_sweep(sweep, chosen)``, if given, runs between the sweep and the race (the command
    prints the sweep there). Raises ``NoStableLearningRate`` (its ``sweep`` attribute holds
    the sweep) if a regime has no usable learning rate, and ``KeyboardInterrupt`` on Ctrl-C
    during the sweep; Ctrl-C during the race returns the seeds finished so far, with
    ``interrupted`` set.
    """
    sweep = sweep_learning_rates(dataset, regimes, settings, progress=progress)
    try:
        chosen = choose_learning_rates(sweep)
    except NoStableLearningRate as error:
        error.sweep = sweep
        raise
    if on_sweep is not None:
        on_sweep(sweep, chosen)
    runs, interrupted = race(dataset, chosen, settings, progress=progress)
    seeds = settings.seeds[: len(next(iter(runs.values())))]
    return FairResult(sweep, chosen, runs, settings, seeds, interrupted)


def curve(results: Sequence[RegimeResult]) -> Curve:
    """Median and min-max band over seeds of each evaluation of one regime."""
    evaluations = [result.history.evaluations for result in results]
    longest = max(evaluations, key=len)
    count = len(longest)
    metrics = list(dict.fromkeys(name for e in longest for name in e.metrics))
    seconds = np.full((len(results), count), np.nan)
    values = {name: np.full((len(results), count), np.nan) for name in metrics}
    for row, seed_evaluations in enumerate(evaluations):
        for column, evaluation in enumerate(seed_evaluations):
            seconds[row, column] = evaluation.seconds
            for name in metrics:
                values[name][row, column] = evaluation.metrics.get(name, np.nan)
    reached = ~np.isnan(seconds)  # which seeds got as far as each evaluation
    for table in values.values():  # an overflowed (NaN) loss is infinitely bad, not missing
        table[reached & np.isnan(table)] = np.inf
    return Curve(
        regime=results[0].name,
        lr=results[0].config.lr,
        steps=np.array([e.step for e in longest]),
        samples_seen=np.array([e.samples_seen for e in longest]),
        seconds=np.nanmedian(seconds, axis=0),
        median={name: np.nanmedian(table, axis=0) for name, table in values.items()},
        low={name: np.nanmin(table, axis=0) for name, table in values.items()},
        high={name: np.nanmax(table, axis=0) for name, table in values.items()},
        seeds_reporting=reached.sum(axis=0),
    )


CURVE_AXES = {"steps": "steps", "samples": "samples_seen", "seconds": "seconds"}  # -> attribute


def loss_within(regime_curve: Curve, axis: str, budget: float) -> float:
    """The median full-data loss at the last evaluation that fits within ``budget``.

    ``axis`` is "steps", "samples" or "seconds". This is the loss a user would have if
    they stopped at the budget (at the resolution of the evaluations): a regime that has
    not reached its first evaluation by then still has its initial loss.
    """
    xs = getattr(regime_curve, CURVE_AXES[axis])
    within = np.nonzero(xs <= budget * (1 + 1e-9))[0]
    return float(regime_curve.median[FULL_LOSS][within[-1]]) if len(within) else math.nan


def equal_budgets(result: FairResult) -> dict[str, dict]:
    """Every regime's loss at the same cost, per axis: the cost of the cheapest regime's run.

    Steps: every regime ran the same number, so this is the final loss. Samples and
    seconds: the budget is what the regime that used least spent.
    """
    curves = {regime: curve(results) for regime, results in result.runs.items()}
    table = {}
    for axis in CURVE_AXES:
        budget = min(float(getattr(c, CURVE_AXES[axis])[-1]) for c in curves.values())
        spender = min(curves, key=lambda regime: getattr(curves[regime], CURVE_AXES[axis])[-1])
        table[axis] = {
            "budget": budget,
            "set_by": spender,
            "loss": {regime: loss_within(c, axis, budget) for regime, c in curves.items()},
        }
    table["seconds"]["clock"] = clock_note(result.settings)
    return table


def budget_table(budgets: dict[str, dict]) -> str:
    """``equal_budgets`` as text: one row per kind of cost, one column per regime."""
    regimes = list(next(iter(budgets.values()))["loss"])
    width = max(14, *(len(regime) for regime in regimes))
    units = {"steps": "steps", "samples": "samples", "seconds": "s of training"}
    header = f"{'budget':<28}" + "".join(f" {regime:>{width}}" for regime in regimes)
    lines = [header, "-" * len(header)]
    for axis, entry in budgets.items():
        amount = f"{entry['budget']:.3g}" if axis == "seconds" else f"{entry['budget']:.0f}"
        cells = "".join(f" {loss_text(entry['loss'][regime]):>{width}}" for regime in regimes)
        lines.append(f"{amount + ' ' + units[axis]:<28}{cells}")
    notes = [entry["clock"] for entry in budgets.values() if "clock" in entry]
    return "\n".join(lines + notes)


def final_losses(results: Sequence[RegimeResult], metric: str = FULL_LOSS) -> np.ndarray:
    """Each seed's loss after its last step; a diverged seed counts as infinitely bad."""
    finals = []
    for result in results:
        value = result.full_loss if metric == FULL_LOSS else result.validation_loss
        value = math.nan if value is None else float(value)
        finals.append(math.inf if is_diverged(result) or not math.isfinite(value) else value)
    return np.array(finals)


def statistics(result: FairResult) -> dict[str, dict]:
    """Per regime: chosen lr, per-seed final losses and times, and their medians."""
    table = {}
    for regime, results in result.runs.items():
        finals = final_losses(results)
        seconds = np.array([r.history.total_seconds for r in results])
        entry = {
            "batch_size": results[0].history.batch_size,
            "momentum": results[0].config.momentum,
            "lr": results[0].config.lr,
            "lr_at_grid_edge": at_grid_edge(result.sweep, result.chosen[regime]),
            "seeds": list(result.seeds),
            "final_full_loss": finals,
            "median_final_full_loss": float(np.median(finals)),
            "min_final_full_loss": float(np.min(finals)),
            "max_final_full_loss": float(np.max(finals)),
            "diverged_seeds": [
                seed for seed, run in zip(result.seeds, results, strict=True) if is_diverged(run)
            ],
            "seconds": seconds,
            "median_seconds": float(np.median(seconds)),
            "samples_seen": int(results[0].history.samples_seen[-1]),
            "steps": results[0].history.steps,
        }
        if any(r.validation_loss is not None for r in results):
            validation = final_losses(results, VALIDATION_LOSS)
            entry["final_validation_loss"] = validation
            entry["median_final_validation_loss"] = float(np.median(validation))
        table[regime] = entry
    return table


def sweep_table(points: Sequence[SweepPoint], chosen: dict[str, SweepPoint]) -> str:
    """The sweep as text, one row per run, the winner of each regime marked."""
    header = (
        f"{'regime':<18} {'batch':>6} {'momentum':>8} {'lr':>9} {'final loss':>10} "
        f"{'mean of last fifth':>18}"
    )
    lines = [header, "-" * len(header)]
    for point in points:
        final = "diverged" if point.diverged else loss_text(point.full_loss)
        final = f"{final} stuck" if point.stuck else final
        tail = "-" if point.diverged else loss_text(point.tail_loss)
        mark = "  <- chosen" if chosen.get(point.regime) is point else ""
        lines.append(
            f"{point.regime:<18} {point.batch_size:>6} {point.momentum:>8g} {point.lr:>9.2g} "
            f"{final:>10} {tail:>18}{mark}"
        )
    lines.append(f"{verdict.DIVERGED_RULE}; {verdict.STUCK_RULE}")
    return "\n".join(lines)


def race_table(stats: dict[str, dict]) -> str:
    """Median [min, max] over seeds of each regime's final losses, and what it cost."""
    with_validation = any("median_final_validation_loss" in entry for entry in stats.values())
    header = (
        f"{'regime':<18} {'lr':>8} {'full-data loss: median [min, max]':>34}"
        + (f" {'validation (median)':>19}" if with_validation else "")
        + f" {'samples seen':>12} {'train s (median)':>16}"
    )
    lines = [header, "-" * len(header)]
    for regime, entry in stats.items():
        spread = (
            f"{loss_text(entry['median_final_full_loss'])} "
            f"[{loss_text(entry['min_final_full_loss'])}, "
            f"{loss_text(entry['max_final_full_loss'])}]"
        )
        validation = f" {entry['median_final_validation_loss']:>19.4f}" if with_validation else ""
        lines.append(
            f"{regime:<18} {entry['lr']:>8.2g} {spread:>34}{validation} "
            f"{entry['samples_seen']:>12} {entry['median_seconds']:>16.3f}"
        )
    return "\n".join(lines)


def loss_text(value: float) -> str:
    """A loss in at most 10 characters (see ``race.number_text``)."""
    from .race import number_text

    return number_text(value, 4)
