"""The course's fixed teaching dataset: noisy "ramp direction" sequences that are easy to memorize.

Each sequence has `seq_len` steps of `n_features` numbers, all N(0, 1) noise to start with.
Feature 0 carries the signal: `signal * s * r_t` with r = linspace(-1, 1, seq_len) and s = +1 for
class 1 (the ramp goes up) and -1 for class 0 (it goes down). The classes are exactly balanced
before the flips. The distractor features 1..9 carry no information about the class, only three
kinds of noise, each there for a reason:

* a per-sequence constant offset on each distractor (`distractor_offset` x N(0, 1)), like a
  sensor's bias that differs from one recording to the next: a handle a big network uses to tell
  training sequences apart, and so to memorize them;
* `pulses` large spikes per sequence (+-`pulse_amplitude` at a random step of a random
  distractor), like a real sensor's glitches: rules memorized from them fire on new sequences, so
  memorizing costs validation accuracy instead of merely not helping;
* exactly `flip_rate` of the labels flipped: the flipped labels cannot be predicted from the
  inputs, so the best possible accuracy is 1 - flip_rate = 90%, and a model far above 90% train
  accuracy has memorized noise.

The clean task is almost perfectly separable (the matched filter sum_t r_t x_t0 has a
signal-to-noise ratio above 4), so the Bayes accuracy is 90% on every split. The design was
chosen by measuring some 50 variants (the ablation of notebook 02): with these ingredients the
overfitting baseline lands near 77% validation accuracy, early stopping alone near 81%, and the
lesson's fix near 87%.

Every split comes from its own seed, so the data never depends on the training seed, and the
tensors are checked against a recorded sha256 fingerprint: learners may change the model and the
hyperparameters, never the data.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, replace

import numpy as np
import torch


@dataclass(frozen=True)
class DatasetSpec:
    """How the teaching data is generated. The defaults are the course's dataset."""

    seq_len: int = 20
    n_features: int = 10
    signal: float = 1.5  # ramp amplitude on feature 0
    distractor_std: float = 1.0  # noise scale of the uninformative features 1..n_features-1
    distractor_offset: float = 2.5  # scale of each sequence's constant bias on each distractor
    pulses: int = 5  # label-independent spikes per sequence, on random distractor features
    pulse_amplitude: float = 16.0
    flip_rate: float = 0.10  # exact fraction of labels flipped in every split
    signal_steps: int | None = None  # ramp only in the first k steps (None: all), for notebook 03
    n_train: int = 200  # small enough to memorize
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
    """Train, val and test splits; `spec` is the generating process (None for real data)."""

    spec: DatasetSpec | None
    train: Split
    val: Split
    test: Split

    def fingerprint(self) -> str:
        """sha256 over the bytes of every tensor, in a fixed order."""
        digest = hashlib.sha256()
        for split in (self.train, self.val, self.test):
            digest.update(split.x.contiguous().numpy().tobytes())
            digest.update(split.y.contiguous().numpy().tobytes())
            if split.lengths is not None:
                digest.update(split.lengths.contiguous().numpy().tobytes())
        return digest.hexdigest()


def make_split(spec: DatasetSpec, n: int, seed: int) -> Split:
    """Generate `n` sequences from `spec` with a private generator seeded by `seed`."""
    ramp = _ramp(spec.seq_len, spec.signal_steps)
    x, y = _generate(np.random.default_rng(seed), spec, np.tile(ramp, (n, 1)), flip=True)
    return Split(x=x, y=y)


def _ramp(seq_len: int, signal_steps: int | None = None) -> np.ndarray:
    """r_t = linspace(-1, 1) over the signal steps, zero after them."""
    steps = seq_len if signal_steps is None else signal_steps
    ramp = np.zeros(seq_len)
    ramp[:steps] = np.linspace(-1.0, 1.0, steps)
    return ramp


def _generate(
    rng: np.random.Generator, spec: DatasetSpec, ramps: np.ndarray, flip: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The generating process, for `ramps` (n, seq_len): one signal shape per sequence."""
    n, steps = ramps.shape
    y = np.zeros(n, dtype=np.int64)
    y[: n // 2] = 1
    rng.shuffle(y)  # exactly balanced classes
    x = rng.standard_normal((n, steps, spec.n_features))
    x[:, :, 1:] *= spec.distractor_std
    if spec.distractor_offset:
        x[:, :, 1:] += spec.distractor_offset * rng.standard_normal((n, 1, spec.n_features - 1))
    rows = np.repeat(np.arange(n), spec.pulses)
    at_step = rng.integers(0, steps, n * spec.pulses)
    on_feature = rng.integers(1, spec.n_features, n * spec.pulses)
    signs = rng.choice([-1.0, 1.0], n * spec.pulses)
    np.add.at(x, (rows, at_step, on_feature), spec.pulse_amplitude * signs)
    x[:, :, 0] += (spec.signal * (2.0 * y - 1.0))[:, None] * ramps
    if flip:
        flipped = rng.choice(n, int(round(spec.flip_rate * n)), replace=False)
        y[flipped] = 1 - y[flipped]
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def ideal_predictions(x: torch.Tensor, spec: DatasetSpec = DatasetSpec()) -> torch.Tensor:
    """The best possible classifier for this data: the sign of the matched filter sum_t r_t x_t0.

    It knows the generating process, so its accuracy on a split is ~1 - flip_rate: the ceiling
    no model can beat on average.
    """
    ramp = torch.tensor(_ramp(spec.seq_len, spec.signal_steps), dtype=x.dtype)
    return (x[:, :, 0] @ ramp > 0).long()


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
COURSE_FINGERPRINT = "64dd92bca4986b766bcbdef688aa1aa6df9848d28daf572b485195bdc914961b"

_verified: Dataset | None = None  # the course data of this process, checked


def load_course_data(verify: bool = True) -> Dataset:
    """The course's fixed dataset, checked against its recorded fingerprint.

    Generated once per process, then re-checked on every call (3 ms), so a changed generator,
    spec or library version fails loudly, and tensors edited in place are regenerated (with a
    warning) instead of silently teaching other numbers. `verify=False` returns a fresh,
    unchecked copy that is never kept: it cannot stand in for the checked data later.
    """
    global _verified
    if not verify:
        return make_dataset(COURSE_SPEC)
    if _verified is not None:
        if _verified.fingerprint() == COURSE_FINGERPRINT:
            return _verified
        warnings.warn("the course data had been changed in place in this process; it was "
                      "generated again from its seeds (copy tensors before editing them: "
                      "x = data.train.x.clone())", stacklevel=2)
        _verified = None
    data = make_dataset(COURSE_SPEC)
    if data.fingerprint() != COURSE_FINGERPRINT:
        raise RuntimeError(
            f"The course data does not match its recorded fingerprint "
            f"({data.fingerprint()[:12]}... != {COURSE_FINGERPRINT[:12]}...). The dataset must "
            "never change: restore rnn_lesson/data.py and use the numpy and torch versions of "
            "requirements.txt."
        )
    _verified = data
    return data


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
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, n)
    ramps = np.stack([_ramp(max_len, int(length)) for length in lengths])
    x, y = _generate(rng, replace(spec, seq_len=max_len), ramps, flip=False)  # clean labels
    for i, length in enumerate(lengths):
        x[i, length:] = 0.0  # padding
    return PaddedBatch(x=x, lengths=torch.tensor(lengths), y=y)
