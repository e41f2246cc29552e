"""Notebook 03, the bonus: `nn.RNN` vs `nn.LSTM` vs `nn.GRU`.

Two experiments and one explanation:

* `compare_cells`: the lesson's regularized setup with each cell on the course data.
* `accuracy_vs_length`: a variant whose ramp sits in the first `SIGNAL_STEPS` steps only, followed
  by more and more steps of noise, so the network must carry what it saw early to the end.
* `gradient_norm_per_step`: how much of the loss's gradient reaches each input step, which is why
  the plain RNN fails first on long sequences.

Every run goes through the course's one `train()`. Runs are independent, so `run_jobs` spreads
them over worker processes (`parallel.run_in_workers`); results do not depend on it.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .data import COURSE_SPEC, Dataset, DatasetSpec, Split, load_course_data, make_dataset
from .experiments import REGULARIZED, Experiment, Spread
from .models import ModelConfig, build_model, count_parameters
from .parallel import run_in_workers
from .training import TrainConfig, train

CELL_ORDER = ("rnn", "lstm", "gru")

# The long-sequence variant: the course's data generator with the ramp in the first 10 steps only
# (then noise and pulses until step T), one recurrent layer of 32 units without dropout so that
# only the cell differs, and a fixed training budget: early stopping with patience 10, at most 40
# epochs. 1000 training sequences: with 500 the LSTM's escape from the initial plateau at T=30
# often takes longer than the patience.
SIGNAL_STEPS = 10
LONG_N_TRAIN = 1000
LONG_MODEL = ModelConfig(cell="rnn", hidden_size=32, num_layers=1, dropout=0.0)
LONG_TRAIN = TrainConfig(lr=1e-3, batch_size=32, max_epochs=40, early_stopping=True, patience=10)
GRADIENT_BATCH = 256  # validation sequences averaged in a gradient-norm profile


def long_spec(seq_len: int, n_train: int = LONG_N_TRAIN) -> DatasetSpec:
    """The course's data generator at length `seq_len`, ramp in the first SIGNAL_STEPS steps."""
    return dataclasses.replace(COURSE_SPEC, seq_len=seq_len, signal_steps=SIGNAL_STEPS, n_train=n_train)


# ---------------------------------------------------------------------------------------------
# Runs


@dataclass(frozen=True)
class Job:
    """One training run: what to build, how to train it, and which data (by its spec)."""

    model: ModelConfig
    train: TrainConfig
    spec: DatasetSpec = COURSE_SPEC


@dataclass(frozen=True)
class Run:
    """The outcome of one Job, small enough to send back from a worker process."""

    cell: str
    seq_len: int
    seed: int
    train_acc: float
    val_acc: float
    test_acc: float
    epochs: int
    best_epoch: int
    seconds: float
    parameters: int
    val_curve: tuple[float, ...]  # validation accuracy after each epoch
    grad_norms: tuple[float, ...]  # gradient_norm_per_step of the returned (best) model

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / self.epochs


@functools.lru_cache(maxsize=8)
def dataset_for(spec: DatasetSpec) -> Dataset:
    """The data of a spec, generated once per process (the course data is fingerprint-checked)."""
    return load_course_data() if spec == COURSE_SPEC else make_dataset(spec)


def run_job(job: Job) -> Run:
    """Train one job with the course's `train()` and summarize it (runs in a worker process)."""
    data = dataset_for(job.spec)
    history = train(job.model, job.train, data)
    return Run(
        cell=job.model.cell,
        seq_len=job.spec.seq_len,
        seed=job.train.seed,
        train_acc=history.final["train_acc"],
        val_acc=history.final["val_acc"],
        test_acc=history.final["test_acc"],
        epochs=history.epochs,
        best_epoch=history.best_epoch,
        seconds=history.seconds,
        parameters=count_parameters(history.model),
        val_curve=tuple(history.val_acc),
        grad_norms=tuple(gradient_norm_per_step(history.model, data.val).tolist()),
    )


def run_jobs(jobs: Sequence[Job], workers: int = 2) -> list[Run]:
    """Run every job, on `workers` processes with one torch thread each; results in job order.

    `workers=1` runs them one after the other in this process.
    The longest jobs start first so that the two workers finish at about the same time.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        return [run_job(job) for job in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -_cost(jobs[i]))
    done = dict(run_in_workers(run_job, [jobs[i] for i in order], workers))
    runs: dict[int, Run] = {order[k]: run for k, run in done.items()}
    return [runs[i] for i in range(len(jobs))]


def _cost(job: Job) -> float:
    """A rough relative cost, to start the slow jobs first (GRU is the slowest cell on CPU)."""
    per_cell = {"rnn": 1.0, "lstm": 1.0, "gru": 3.0}
    return job.spec.seq_len * job.spec.n_train * per_cell[job.model.cell]


# ---------------------------------------------------------------------------------------------
# Summaries over seeds





@dataclass(frozen=True)
class Summary:
    """All seeds of one cell at one length."""

    cell: str
    seq_len: int
    runs: tuple[Run, ...]

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs)

    @property
    def parameters(self) -> int:
        return self.runs[0].parameters

    def spread(self, metric: str) -> Spread:
        """Spread of a Run field or property over the seeds, e.g. "test_acc", "seconds_per_epoch"."""
        return Spread.of(getattr(r, metric) for r in self.runs)


def summarize(runs: Iterable[Run]) -> dict[tuple[str, int], Summary]:
    """Group runs by (cell, seq_len), in the order they first appear."""
    groups: dict[tuple[str, int], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.cell, run.seq_len), []).append(run)
    return {key: Summary(key[0], key[1], tuple(rs)) for key, rs in groups.items()}


# ---------------------------------------------------------------------------------------------
# Experiment 1: the regularized setup with each cell, on the course data


def compare_cells(
    cells: Sequence[str] = CELL_ORDER,
    seeds: Iterable[int] = range(3),
    experiment: Experiment = REGULARIZED,
    spec: DatasetSpec = COURSE_SPEC,
    workers: int = 2,
) -> list[Summary]:
    """Train `experiment` with each cell on each seed: one Summary per cell, in `cells` order."""
    seeds = list(seeds)
    jobs = [
        Job(dataclasses.replace(experiment.model, cell=cell),
            dataclasses.replace(experiment.train, seed=seed), spec)
        for cell in cells
        for seed in seeds
    ]
    return list(summarize(run_jobs(jobs, workers)).values())


def format_comparison(rows: Sequence[Summary]) -> str:
    """A plain-text table: accuracy mean [min-max] over seeds, parameters, seconds per epoch."""
    lines = [f"{'cell':6}{'val accuracy':>22}{'test accuracy':>22}{'parameters':>12}"
             f"{'epochs':>16}{'seconds per epoch':>24}"]
    for row in rows:
        epochs, seconds = row.spread("epochs"), row.spread("seconds_per_epoch")
        lines.append(
            f"{row.cell:6}{row.spread('val_acc').pct():>22}{row.spread('test_acc').pct():>22}"
            f"{row.parameters:>12,}{f'{epochs.mean:.1f} [{epochs.low}-{epochs.high}]':>16}"
            f"{f'{seconds.mean:.3f} [{seconds.low:.3f}-{seconds.high:.3f}]':>24}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Experiment 2: accuracy against sequence length, the ramp in the first steps only


def accuracy_vs_length(
    lengths: Sequence[int] = (10, 20, 30),
    cells: Sequence[str] = CELL_ORDER,
    seeds: Iterable[int] = range(3),
    n_train: int = LONG_N_TRAIN,
    model: ModelConfig = LONG_MODEL,
    training: TrainConfig = LONG_TRAIN,
    workers: int = 2,
) -> dict[tuple[str, int], Summary]:
    """Train each cell on each length and seed: {(cell, seq_len): Summary}, lengths outermost."""
    seeds = list(seeds)
    jobs = [
        Job(dataclasses.replace(model, cell=cell), dataclasses.replace(training, seed=seed),
            long_spec(seq_len, n_train))
        for seq_len in lengths
        for cell in cells
        for seed in seeds
    ]
    return summarize(run_jobs(jobs, workers))


def format_length_table(table: dict[tuple[str, int], Summary], metric: str = "test_acc") -> str:
    """Rows: cells; columns: lengths; entries: mean [min-max] over seeds."""
    lengths = sorted({length for _, length in table})
    cells = [c for c in CELL_ORDER if any(cell == c for cell, _ in table)]
    lines = [f"{'cell':6}" + "".join(f"{f'T={length}':>22}" for length in lengths)]
    for cell in cells:
        lines.append(f"{cell:6}" + "".join(f"{table[cell, length].spread(metric).pct():>22}"
                                            for length in lengths))
    return "\n".join(lines)


def accuracies_by_cell(
    table: dict[tuple[str, int], Summary], metric: str = "test_acc"
) -> tuple[list[int], dict[str, list[list[float]]]]:
    """(lengths, {cell: [per-seed values at each length]}): the input of plot_accuracy_vs_length."""
    lengths = sorted({length for _, length in table})
    cells = [c for c in CELL_ORDER if any(cell == c for cell, _ in table)]
    return lengths, {
        cell: [[getattr(r, metric) for r in table[cell, length].runs] for length in lengths]
        for cell in cells
    }


# ---------------------------------------------------------------------------------------------
# The explanation: the gradient that reaches each time step


def gradient_norm_per_step(model: nn.Module, split: Split, n: int = GRADIENT_BATCH) -> torch.Tensor:
    """||d loss / d x_t|| for each step t, averaged over the first `n` sequences: shape (seq_len,).

    The loss is the mean cross-entropy of the batch, computed in eval mode (no dropout). This is
    the signal that tells the network how to use input step t; the parameters' own gradients are
    sums of such contributions over the steps. The model's mode and gradients are left untouched.
    """
    x = split.x[:n].clone().requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        loss = F.cross_entropy(model(x), split.y[:n])
        (grad,) = torch.autograd.grad(loss, x)
    finally:
        model.train(was_training)
    return grad.norm(dim=2).mean(dim=0)


def initial_gradient_norms(
    cell: str,
    seq_len: int,
    seeds: Iterable[int] = range(3),
    model: ModelConfig = LONG_MODEL,
) -> torch.Tensor:
    """gradient_norm_per_step of freshly initialized models: shape (len(seeds), seq_len).

    Seed s gives exactly the initial weights that `train()` starts from with seed s. The global
    random state is left untouched.
    """
    split = dataset_for(long_spec(seq_len)).val
    profiles = []
    for seed in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            fresh = build_model(dataclasses.replace(model, cell=cell))
        profiles.append(gradient_norm_per_step(fresh, split))
    return torch.stack(profiles)


def trained_gradient_norms(table: dict[tuple[str, int], Summary], cell: str, seq_len: int) -> torch.Tensor:
    """The gradient profiles of the trained models of a sweep: shape (seeds, seq_len)."""
    return torch.tensor([r.grad_norms for r in table[cell, seq_len].runs])


def first_to_last_ratio(profiles: torch.Tensor) -> Spread:
    """Gradient norm at the first step divided by the norm at the last step, over seeds (rows)."""
    return Spread.of((profiles[:, 0] / profiles[:, -1]).tolist())


def per_step_factor(profiles: torch.Tensor) -> Spread:
    """The average factor by which one step back multiplies the gradient norm, over seeds (rows).

    The geometric mean of norm[t] / norm[t + 1]: (first / last) ** (1 / (seq_len - 1)).
    """
    ratios = profiles[:, 0] / profiles[:, -1]
    return Spread.of(ratios.pow(1.0 / (profiles.shape[1] - 1)).tolist())


# ---------------------------------------------------------------------------------------------
# The explorer: dropdowns over the precomputed sweep (nothing is trained when they move)


def length_explorer(table: dict[tuple[str, int], Summary]):
    """Cell and length dropdowns showing the sweep's validation curves and trained gradients."""
    import ipywidgets as w
    from IPython.display import display

    from .plots import plot_sweep_run

    lengths = sorted({length for _, length in table})
    cells = [c for c in CELL_ORDER if any(cell == c for cell, _ in table)]
    cell = w.Dropdown(options=cells, value="lstm" if "lstm" in cells else cells[0], description="cell")
    length = w.Dropdown(options=lengths, value=lengths[-1], description="length T")
    out = w.Output()

    def redraw(_change: object = None) -> None:
        summary = table[cell.value, length.value]
        with out:
            out.clear_output(wait=True)
            display(plot_sweep_run(list(summary.runs), signal_steps=SIGNAL_STEPS))

    cell.observe(redraw, names="value")
    length.observe(redraw, names="value")
    redraw()
    return w.VBox([w.HBox([cell, length]), out])
