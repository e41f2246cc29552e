"""The course's fixed teaching dataset: noisy "ramp direction" sequences.

Each sequence has `seq_len` steps of `n_features` numbers. Every feature is N(0, 1) noise; the
distractor features 1..9 are scaled by `distractor_std`, so they are loud and carry no information.
Feature 0 carries the signal: `signal * s * r_t` with r = linspace(-1, 1, seq_len) and s = +1 for
class 1 (the ramp goes up) and -1 for class 0 (it goes down). The classes are exactly balanced.

Then exactly `flip_rate` of the labels are flipped. The clean task is almost perfectly separable
(the matched filter sum_t r_t x_t0 has a signal-to-noise ratio of ~4), so the best possible accuracy
on any split is 1 - flip_rate = 90%: a model at 98% train accuracy has memorized label noise.

Every split comes from its own seed, so the data never depends on the training seed, and the
tensors are checked against a recorded sha256 fingerprint: learners may change the model and the
hyperparameters, never the data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DatasetSpec:
    """How the teaching data is generated. The defaults are the course's dataset."""

    seq_len: int = 20
    n_features: int = 10
    signal: float = 1.5  # ramp amplitude on feature 0
    distractor_std: float = 3.0  # scale of the uninformative features 1..n_features-1
    flip_rate: float = 0.10  # exact fraction of labels flipped in every split
    signal_steps: int | None = None  # ramp only in the first k steps (None: all), for notebook 03
    n_train: int = 150  # small enough to memorize
    n_val: int = 1000  # one sequence = 0.1 accuracy point
    n_test: int = 2000  # never seen by early stopping
    train_seed: int = 1
    val_seed: int = 2
    test_seed: int = 3

    @property
    def best_possible_accuracy(self) -> float:
        """Bayes accuracy: the flipped labels cannot be predicted from the inputs."""
        return 1.0 - self.flip_rate


@dataclass(frozen=True)
class Split:
    """One split: inputs `x` (batch, seq_len, n_features) float32 and labels `y` (batch,) int64.

    `lengths` (batch,) is set only for zero-padded variable-length data.
    """

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    spec: DatasetSpec
    train: Split
    val: Split
    test: Split

    def fingerprint(self) -> str:
        """sha256 over the bytes of every tensor, in a fixed order."""
        digest = hashlib.sha256()
        for split in (self.train, self.val, self.test):
            digest.update(split.x.contiguous().numpy().tobytes())
            digest.update(split.y.contiguous().numpy().tobytes())
        return digest.hexdigest()


def make_split(spec: DatasetSpec, n: int, seed: int) -> Split:
    """Generate `n` sequences from `spec` with a private generator seeded by `seed`."""
    gen = torch.Generator().manual_seed(seed)
    clean = (torch.arange(n) % 2)[torch.randperm(n, generator=gen)]  # exactly balanced
    x = torch.randn(n, spec.seq_len, spec.n_features, generator=gen)
    x[:, :, 1:] *= spec.distractor_std
    x[:, :, 0] += spec.signal * (2 * clean - 1).float()[:, None] * _ramp(spec)
    flipped = torch.randperm(n, generator=gen)[: round(spec.flip_rate * n)]
    y = clean.clone()
    y[flipped] = 1 - y[flipped]
    return Split(x=x, y=y)


def _ramp(spec: DatasetSpec) -> torch.Tensor:
    """r_t = linspace(-1, 1) over the signal steps, zero after them."""
    steps = spec.seq_len if spec.signal_steps is None else spec.signal_steps
    ramp = torch.zeros(spec.seq_len)
    ramp[:steps] = torch.linspace(-1.0, 1.0, steps)
    return ramp


def ideal_predictions(x: torch.Tensor, spec: DatasetSpec = DatasetSpec()) -> torch.Tensor:
    """The best possible classifier for this data: the sign of the matched filter sum_t r_t x_t0.

    It knows the generating process, so its accuracy on a split is ~1 - flip_rate: the ceiling
    no model can beat on average.
    """
    return (x[:, :, 0] @ _ramp(spec) > 0).long()


def make_dataset(spec: DatasetSpec = DatasetSpec()) -> Dataset:
    """Generate train, val and test splits for any spec (notebook 03 varies the length)."""
    return Dataset(
        spec=spec,
        train=make_split(spec, spec.n_train, spec.train_seed),
        val=make_split(spec, spec.n_val, spec.val_seed),
        test=make_split(spec, spec.n_test, spec.test_seed),
    )


COURSE_SPEC = DatasetSpec()
# Recorded once with `make_dataset(COURSE_SPEC).fingerprint()`; tests/test_data.py checks it.
COURSE_FINGERPRINT = "9f18b6385685fc8c8b02ffd5eeec7324efd3bd10cc01fc49149e85399f760885"

_course_cache: Dataset | None = None


def load_course_data(verify: bool = True) -> Dataset:
    """The course's fixed dataset (generated once per process, then cached).

    With `verify`, the tensors are checked against the recorded fingerprint, so a changed
    generator, spec or torch version is caught instead of silently teaching other numbers.
    """
    global _course_cache
    if _course_cache is None:
        data = make_dataset(COURSE_SPEC)
        if verify and data.fingerprint() != COURSE_FINGERPRINT:
            raise RuntimeError(
                f"The course data does not match its recorded fingerprint "
                f"({data.fingerprint()[:12]}... != {COURSE_FINGERPRINT[:12]}...). The dataset must "
                "never change: restore rnn_lesson/data.py and use torch==2.13.0 (requirements.txt)."
            )
        _course_cache = data
    return _course_cache


@dataclass(frozen=True)
class PaddedBatch:
    """Variable-length sequences padded with zeros to the longest: x (batch, max_len, features)."""

    x: torch.Tensor
    lengths: torch.Tensor  # (batch,) int64, the number of valid steps of each sequence
    y: torch.Tensor


def make_variable_length_batch(
    n: int = 8,
    min_len: int = 5,
    max_len: int = 20,
    spec: DatasetSpec = COURSE_SPEC,
    seed: int = 0,
) -> PaddedBatch:
    """Sequences of different lengths, each with its ramp over its own valid steps, zero-padded.

    This is the input of the `pack_padded_sequence` lesson: the last *padded* step of a short
    sequence is padding, not data, so a classifier must read the last *valid* step.
    """
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=gen)
    y = (torch.arange(n) % 2)[torch.randperm(n, generator=gen)]  # clean labels: no flips here
    x = torch.zeros(n, max_len, spec.n_features)
    for i, length in enumerate(lengths.tolist()):
        seq = torch.randn(length, spec.n_features, generator=gen)
        seq[:, 1:] *= spec.distractor_std
        seq[:, 0] += spec.signal * (2 * y[i] - 1) * torch.linspace(-1.0, 1.0, length)
        x[i, :length] = seq
    return PaddedBatch(x=x, lengths=lengths, y=y)
