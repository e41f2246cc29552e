"""Real sequences for notebook 04: the Japanese Vowels speaker-recognition data set.

Nine Japanese men each said the vowel pair /ae/; every utterance became a sequence of 12 LPC
cepstrum coefficients per frame (25.6 ms frames every 6.4 ms), 7 to 29 frames long. The task is
to name the speaker (9 classes). 270 training utterances (30 per speaker) and 370 test utterances
(24-88 per speaker). Source: the UCI Machine Learning Repository, "Japanese Vowels" (M. Kudo,
J. Toyama and M. Shimbo, 1999), licence CC BY 4.0, in the UEA/UCR archive's `.ts` files; see
`datasets/japanese_vowels/README.md` for the exact files and their sha256.

The two files ship inside the package and are read by the small `.ts` parser below: no download
and no dependency at run time. Both the files and the tensors built from them are checked
against recorded sha256 fingerprints, like the course data (`data.load_course_data`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .data import Dataset, Split

DATA_DIR = Path(__file__).resolve().parent / "datasets" / "japanese_vowels"
TRAIN_FILE = "JapaneseVowels_TRAIN.ts"
TEST_FILE = "JapaneseVowels_TEST.ts"
# sha256 of the files as shipped in the sktime 1.2.0 wheel (see the README beside them).
FILE_SHA256 = {
    TRAIN_FILE: "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
    TEST_FILE: "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462",
}
N_FEATURES = 12
N_CLASSES = 9


# ---------------------------------------------------------------------------------------------
# The UEA/UCR .ts format
# ---------------------------------------------------------------------------------------------


class TsFormatError(ValueError):
    """A .ts file that breaks the format; the message names the line and what was expected."""


@dataclass(frozen=True)
class TsData:
    """The cases of one .ts file.

    `series[i]` is a float64 array (length, dimensions) of case i (its own length); `labels[i]` its
    class label as written in the file; `class_labels` the labels declared by `@classLabel`, in
    their declared order; `header` every `@key value` line before `@data`, keys in lower case.
    """

    series: list[np.ndarray]
    labels: list[str]
    class_labels: tuple[str, ...]
    header: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.series)

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.series]


def _flag(header: dict[str, str], key: str, default: bool) -> bool:
    words = header.get(key, "").split()
    return words[0].lower() == "true" if words else default


def parse_ts(text: str, source: str = "<string>") -> TsData:
    """Parse the text of a UEA/UCR `.ts` classification file.

    The format: comment lines start with `#`; header lines `@key value` come before a line `@data`;
    after it, one case per line, its dimensions separated by `:`, the values of a dimension by `,`,
    and the class label last. Cases may have different lengths, but all dimensions of one case must
    have the same length (one time axis). A missing value is `?` and becomes NaN, only if the
    header says `@missing true`. Time-stamped series (`@timeStamps true`) are not supported.
    """
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    class_labels: tuple[str, ...] = ()
    dims: int | None = None
    missing_ok = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        if not in_data:
            if not line.startswith("@"):
                raise TsFormatError(
                    f"{where}: expected a header line '@key value' or '@data' before the first "
                    f"case, got {line[:40]!r}"
                )
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                in_data = True
                class_labels, dims, missing_ok = _check_header(header, source)
                continue
            header[key] = value.strip()
            continue
        if line.startswith("@"):
            raise TsFormatError(
                f"{where}: expected a case after '@data', got the header line {line[:40]!r}"
            )
        case, label = _parse_case(line, where, dims, missing_ok, has_labels=bool(class_labels))
        if class_labels and label not in class_labels:
            raise TsFormatError(
                f"{where}: expected a class label among {' '.join(class_labels)} "
                f"(from @classLabel), got {label!r}"
            )
        if dims is None:
            dims = case.shape[1]  # no @dimensions: the first case sets it
        series.append(case)
        labels.append(label)
    if not in_data:
        raise TsFormatError(f"{source}: expected a line '@data' before the cases, found none")
    if not series:
        raise TsFormatError(f"{source}: expected at least one case after '@data', found none")
    if _flag(header, "equallength", default=False) and len(set(len(s) for s in series)) > 1:
        raise TsFormatError(
            f"{source}: the header says '@equalLength true' but the lengths range from "
            f"{min(len(s) for s in series)} to {max(len(s) for s in series)}"
        )
    return TsData(series=series, labels=labels, class_labels=class_labels, header=header)


def _check_header(header: dict[str, str], source: str) -> tuple[tuple[str, ...], int | None, bool]:
    """(declared class labels, declared dimensions or None, whether '?' is allowed)."""
    if _flag(header, "timestamps", default=False):
        raise TsFormatError(f"{source}: time-stamped series ('@timeStamps true') are not supported")
    class_labels: tuple[str, ...] = ()
    if "classlabel" in header:
        words = header["classlabel"].split()
        if not words or words[0].lower() not in ("true", "false"):
            raise TsFormatError(
                f"{source}: expected '@classLabel true <labels...>' or '@classLabel false', "
                f"got '@classLabel {header['classlabel']}'"
            )
        if words[0].lower() == "true":
            class_labels = tuple(words[1:])
            if not class_labels:
                raise TsFormatError(f"{source}: '@classLabel true' must list the class labels")
    dims = None
    if "dimensions" in header:
        try:
            dims = int(header["dimensions"])
        except ValueError:
            raise TsFormatError(
                f"{source}: expected an integer after '@dimensions', got {header['dimensions']!r}"
            ) from None
    return class_labels, dims, _flag(header, "missing", default=False)


def _parse_case(
    line: str, where: str, dims: int | None, missing_ok: bool, has_labels: bool
) -> tuple[np.ndarray, str]:
    parts = line.split(":")
    label = parts.pop().strip() if has_labels else ""
    if has_labels and not label:
        raise TsFormatError(f"{where}: expected a class label after the last ':', got nothing")
    if dims is not None and len(parts) != dims:
        raise TsFormatError(
            f"{where}: expected {dims} dimensions separated by ':'"
            + (" and then the class label" if has_labels else "")
            + f", got {len(parts)} dimension(s)"
        )
    columns = []
    for d, part in enumerate(parts, start=1):
        values = []
        for token in part.split(","):
            token = token.strip()
            if token == "?":
                if not missing_ok:
                    raise TsFormatError(
                        f"{where}, dimension {d}: a missing value '?' but the header does not "
                        "say '@missing true'"
                    )
                values.append(math.nan)
                continue
            try:
                values.append(float(token))
            except ValueError:
                raise TsFormatError(
                    f"{where}, dimension {d}: expected a number, got {token[:30]!r}"
                ) from None
        columns.append(values)
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        raise TsFormatError(
            f"{where}: expected all dimensions of a case to have the same length, got lengths "
            f"{[len(c) for c in columns]}"
        )
    return np.array(columns, dtype=np.float64).T, label  # (length, dims)


def read_ts(path: str | Path) -> TsData:
    path = Path(path)
    return parse_ts(path.read_text(encoding="utf-8"), source=path.name)


def pad_series(series: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad sequences of shape (length, features) at the end: x (n, max_len, features) float32
    and lengths (n,) int64."""
    lengths = torch.tensor([len(s) for s in series], dtype=torch.int64)
    x = torch.zeros(len(series), int(lengths.max()), series[0].shape[1], dtype=torch.float32)
    for i, s in enumerate(series):
        x[i, : len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
    return x, lengths


# ---------------------------------------------------------------------------------------------
# Japanese Vowels
# ---------------------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_files(directory: Path = DATA_DIR) -> None:
    """Raise if a shipped file is missing or differs from its recorded sha256."""
    for name, expected in FILE_SHA256.items():
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the Japanese Vowels files ship inside the rnn_lesson package "
                "(reinstall it with `pip install -e .`)"
            )
        actual = file_sha256(path)
        if actual != expected:
            raise RuntimeError(
                f"{name} does not match its recorded sha256 ({actual[:12]}... != "
                f"{expected[:12]}...): restore the file from the repository"
            )


@dataclass(frozen=True)
class Standardization:
    """Per-feature mean and standard deviation (float64) over the real frames of training data.

    Computed with math.fsum, so the numbers (and the fingerprint of the tensors) do not depend on
    the summation order of a library or a CPU.
    """

    mean: np.ndarray  # (features,)
    std: np.ndarray  # (features,)

    @classmethod
    def fit(cls, series: list[np.ndarray]) -> "Standardization":
        frames = np.concatenate(series)  # (total frames, features): the padding is not there yet
        n = len(frames)
        mean = np.array([math.fsum(column) / n for column in frames.T])
        var = np.array([math.fsum((col - m) ** 2) / (n - 1) for col, m in zip(frames.T, mean)])
        return cls(mean=mean, std=np.sqrt(var))

    def apply(self, series: list[np.ndarray]) -> list[np.ndarray]:
        return [(s - self.mean) / self.std for s in series]


def _stratified(y: list[int], count, seed: int) -> list[int]:
    """Sorted indices of `count(n_c)` members of each class c, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(y)
    chosen: list[int] = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        chosen.extend(rng.permutation(members)[: count(len(members))].tolist())
    return sorted(chosen)


def stratified_split(y: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (kept, held_out): round(fraction * n_c) of each class c held out, chosen by `seed`.
    Both lists are in file order."""
    held = _stratified(y, lambda n: int(round(fraction * n)), seed)
    held_set = set(held)
    return [i for i in range(len(y)) if i not in held_set], held


def stratified_folds(y: list[int], k: int, seed: int) -> list[list[int]]:
    """k disjoint folds (sorted indices), each with an equal share of every class, by `seed`."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(y)
    fold_of = np.empty(len(labels), dtype=int)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold_of[members] = np.arange(len(members)) % k
    return [np.flatnonzero(fold_of == f).tolist() for f in range(k)]


def _make_split(series: list[np.ndarray], y: list[int], max_len: int) -> Split:
    x, lengths = pad_series(series)
    if x.shape[1] < max_len:  # every split padded to the same length, for one plot and one model
        x = torch.cat([x, x.new_zeros(len(series), max_len - x.shape[1], x.shape[2])], dim=1)
    return Split(x=x, y=torch.tensor(y, dtype=torch.int64), lengths=lengths)


# Recorded once with `load_japanese_vowels().fingerprint()` (the default arguments);
# tests/test_real_data.py checks it, and the loader checks it whenever the defaults are used.
JAPANESE_VOWELS_FINGERPRINT = "5ced0d20dba4be55debc5ff0b82f8a9f9eb9b4cc57948b0e49a75377ccf68809"
_DEFAULTS = (1 / 3, 0, True, False, None)  # val_fraction, seed, standardize, differences, fold
FOLDS = 3

_cache: dict[tuple, Dataset] = {}


def with_differences(series: list[np.ndarray]) -> list[np.ndarray]:
    """Each frame followed by its change from the previous frame (0 for the first): 12 -> 24
    features. How the coefficients move is as telling of a speaker as where they are."""
    out = []
    for s in series:
        change = np.zeros_like(s)
        change[1:] = s[1:] - s[:-1]
        out.append(np.concatenate([s, change], axis=1))
    return out


def load_japanese_vowels(
    val_fraction: float = 1 / 3,
    seed: int = 0,
    standardize: bool = True,
    verify: bool = True,
    differences: bool = False,
    fold: int | None = None,
) -> Dataset:
    """Japanese Vowels as a course Dataset: x (n, 29, 12) float32 zero-padded after each length,
    y int64 speaker 0..8, lengths int64 7..29.

    The official test set (370) stays the test set, untouched. The official training set (270,
    30 per speaker) is split by `seed`, stratified by speaker: `val_fraction` of each speaker's
    utterances (10 of 30 by default) form the validation set that early stopping reads, the rest
    (180) the training set. With `standardize`, every feature is shifted and scaled by the mean
    and standard deviation of the *training* split's real frames (never val or test, never the
    padding), and the padding stays exactly zero.

    `val_fraction=0` keeps all 270 in the training split, for a final run of a recipe chosen on
    validation: there is then no validation set, and the `val` slot holds the usual third of the
    training recordings, which are trained on too (train() needs a val split; with early
    stopping off it only draws a curve). `fold=k` (0, 1 or 2) gives fold k of a stratified
    3-fold split of the 270 instead (by `seed`): 180 train, 90 validation, and the test slot
    holds the validation fold too, so that choosing a recipe never evaluates the test set.
    With `differences`, every frame gets its change from the previous frame appended
    (`with_differences`), before standardization.

    With `verify`, the files are checked against their sha256 and, for the default arguments,
    the tensors against JAPANESE_VOWELS_FINGERPRINT. The result is cached per argument set.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if fold is not None and fold not in range(FOLDS):
        raise ValueError(f"fold must be 0..{FOLDS - 1} or None, got {fold!r}")
    key = (val_fraction, seed, standardize, verify, differences, fold)
    if key in _cache:
        return _cache[key]
    if verify:
        verify_files()
    train_file, test_file = read_ts(DATA_DIR / TRAIN_FILE), read_ts(DATA_DIR / TEST_FILE)
    classes = train_file.class_labels
    y_train = [classes.index(label) for label in train_file.labels]
    y_test = [classes.index(label) for label in test_file.labels]
    if fold is not None:
        held = stratified_folds(y_train, FOLDS, seed)[fold]
        kept = [i for i in range(len(y_train)) if i not in set(held)]
    else:
        kept, held = stratified_split(y_train, val_fraction or 1 / 3, seed)
        if not val_fraction:
            kept = list(range(len(y_train)))  # all 270; the val slot holds a third of them
    parts = {
        "train": ([train_file.series[i] for i in kept], [y_train[i] for i in kept]),
        "val": ([train_file.series[i] for i in held], [y_train[i] for i in held]),
        "test": (test_file.series, y_test),
    }
    if fold is not None:
        parts["test"] = parts["val"]
    if differences:
        parts = {name: (with_differences(series), y) for name, (series, y) in parts.items()}
    if standardize:
        scaler = Standardization.fit(parts["train"][0])
        parts = {name: (scaler.apply(series), y) for name, (series, y) in parts.items()}
    max_len = max(len(s) for series, _ in parts.values() for s in series)
    data = Dataset(spec=None, **{n: _make_split(s, y, max_len) for n, (s, y) in parts.items()})
    if verify and (val_fraction, seed, standardize, differences, fold) == _DEFAULTS:
        if data.fingerprint() != JAPANESE_VOWELS_FINGERPRINT:
            raise RuntimeError(
                f"The Japanese Vowels tensors do not match their recorded fingerprint "
                f"({data.fingerprint()[:12]}... != {JAPANESE_VOWELS_FINGERPRINT[:12]}...): restore "
                "rnn_lesson/japanese_vowels.py and the files, and use the numpy and torch versions of "
                "requirements.txt."
            )
    _cache[key] = data
    return data


def train_subset(data: Dataset, per_class: int, seed: int = 0) -> Dataset:
    """The same val and test, and only `per_class` training sequences of each class (chosen by
    `seed`): a smaller training set, to make a model overfit."""
    counts = torch.bincount(data.train.y)
    if not 1 <= per_class <= int(counts.min()):
        raise ValueError(f"per_class must be between 1 and {int(counts.min())}, got {per_class!r}")
    index = torch.tensor(_stratified(data.train.y.tolist(), lambda n: per_class, seed))
    train = data.train
    lengths = None if train.lengths is None else train.lengths[index]
    return replace(data, train=Split(x=train.x[index], y=train.y[index], lengths=lengths))


def without_lengths(data: Dataset) -> Dataset:
    """The same padded tensors with `lengths=None`: the model then reads every padded step and
    classifies from the last one (step 29), which is padding for all but the longest sequences."""
    strip = lambda split: Split(x=split.x, y=split.y, lengths=None)  # noqa: E731
    return replace(data, train=strip(data.train), val=strip(data.val), test=strip(data.test))
