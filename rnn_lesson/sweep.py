"""The dropout x hidden-size map: many runs of the one `train()`, in parallel, cached on disk.

Every cell of the grid is the lesson's fix (`experiments.REGULARIZED`) with another dropout and
hidden size, trained on several seeds. Runs go to worker processes (`parallel.run_in_workers`;
the numbers equal a plain loop's), the biggest models first so the workers finish together. Each finished run is stored as a small JSON file keyed by
its configuration, the data fingerprint and a hash of the code that computes it, so reopening a
notebook is instant and a changed configuration or code never reads a stale entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .data import Dataset, load_course_data
from .experiments import REGULARIZED, TASK_MAX_TRAIN_ACC, TASK_MIN_VAL_ACC, Experiment, Spread
from .models import ModelConfig
from .parallel import run_in_workers
from .training import TrainConfig, train

_HERE = Path(__file__).resolve().parent
# The code whose change changes the numbers: a new hash invalidates every cached run.
CODE_VERSION = hashlib.sha256(
    b"".join((_HERE / name).read_bytes() for name in ("data.py", "models.py", "training.py"))
).hexdigest()[:16]


def default_cache_dir() -> Path:
    return Path(os.environ.get("RNN_LESSON_CACHE", Path.home() / ".cache" / "rnn_lesson")) / "runs"


@dataclass(frozen=True)
class SweepConfig:
    dropouts: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    hidden_sizes: tuple[int, ...] = (8, 16, 32, 64, 128, 256)
    seeds: tuple[int, ...] = (0, 1, 2)
    base: Experiment = REGULARIZED  # everything but dropout, hidden size and seed

    def runs(self) -> list[tuple[ModelConfig, TrainConfig]]:
        """Every (model, training) configuration of the grid, biggest models first."""
        return [
            (dataclasses.replace(self.base.model, dropout=dropout, hidden_size=hidden),
             dataclasses.replace(self.base.train, seed=seed))
            for hidden in sorted(self.hidden_sizes, reverse=True)
            for dropout in self.dropouts
            for seed in self.seeds
        ]


RunMetrics = dict[str, float]  # train_acc, val_acc, test_acc, train_loss, val_loss, epochs, seconds


@dataclass
class CellStats:
    """Mean, min and max over seeds of one grid cell."""

    val_acc: tuple[float, float, float]
    train_acc: tuple[float, float, float]
    gap: tuple[float, float, float]  # train minus val accuracy

    @property
    def in_task_region(self) -> bool:
        """The task, on the mean over seeds: val >= 85% and train < 92%."""
        return self.val_acc[0] >= TASK_MIN_VAL_ACC and self.train_acc[0] < TASK_MAX_TRAIN_ACC


@dataclass
class SweepResult:
    config: SweepConfig
    runs: dict[tuple[float, int, int], RunMetrics]  # (dropout, hidden, seed) -> metrics
    seconds: float = 0.0
    cached: int = 0  # how many runs came from the cache
    cells: dict[tuple[float, int], CellStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for dropout in self.config.dropouts:
            for hidden in self.config.hidden_sizes:
                runs = [self.runs[(dropout, hidden, seed)] for seed in self.config.seeds]
                self.cells[(dropout, hidden)] = CellStats(
                    val_acc=_spread([r["val_acc"] for r in runs]),
                    train_acc=_spread([r["train_acc"] for r in runs]),
                    gap=_spread([r["train_acc"] - r["val_acc"] for r in runs]),
                )

    def grid(self, metric: str, stat: int = 0) -> list[list[float]]:
        """rows = dropouts, columns = hidden sizes; stat 0 mean, 1 min, 2 max."""
        return [[getattr(self.cells[(d, h)], metric)[stat] for h in self.config.hidden_sizes]
                for d in self.config.dropouts]

    def to_json(self) -> dict:
        return {
            "dropouts": list(self.config.dropouts),
            "hidden_sizes": list(self.config.hidden_sizes),
            "seeds": list(self.config.seeds),
            "seconds": self.seconds,
            "cells": [
                {"dropout": d, "hidden_size": h, **{
                    f"{metric}_{stat}": getattr(self.cells[(d, h)], metric)[i]
                    for metric in ("val_acc", "train_acc", "gap")
                    for i, stat in enumerate(("mean", "min", "max"))},
                 "in_task_region": self.cells[(d, h)].in_task_region}
                for d in self.config.dropouts for h in self.config.hidden_sizes
            ],
        }


def run_sweep(
    config: SweepConfig = SweepConfig(),
    data: Dataset | None = None,
    workers: int = 2,
    cache_dir: Path | None | bool = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Train every run of the grid (cached ones are read, not retrained).

    `workers` processes train in parallel (1 trains in this process); `cache_dir=False` turns
    the cache off; `progress(done, total)` is called after every run.
    """
    data = load_course_data() if data is None else data
    cache = None if cache_dir is False else Path(cache_dir or default_cache_dir())
    fingerprint = data.fingerprint()
    start = time.perf_counter()
    todo, results, cached = [], {}, 0
    for model_config, train_config in config.runs():
        key = (model_config.dropout, model_config.hidden_size, train_config.seed)
        stored = _read_cache(cache, model_config, train_config, fingerprint)
        if stored is None:
            todo.append((key, model_config, train_config))
        else:
            results[key], cached = stored, cached + 1
    total = len(results) + len(todo)
    if progress is not None:
        progress(len(results), total)
    for key, metrics, model_config, train_config in _train_all(todo, data, workers):
        results[key] = metrics
        _write_cache(cache, model_config, train_config, fingerprint, metrics)
        if progress is not None:
            progress(len(results), total)
    return SweepResult(config, results, seconds=time.perf_counter() - start, cached=cached)


def _train_all(todo: list, data: Dataset, workers: int):
    if workers <= 1 or len(todo) <= 1:
        for key, model_config, train_config in todo:
            yield key, _metrics(train(model_config, train_config, data)), model_config, train_config
        return
    configs = [(model_config, train_config) for _, model_config, train_config in todo]
    for i, metrics in run_in_workers(_worker_run, configs, workers, _keep_data, (data,)):
        key, model_config, train_config = todo[i]
        yield key, metrics, model_config, train_config


_worker_data: Dataset | None = None


def _keep_data(data: Dataset) -> None:
    global _worker_data
    _worker_data = data


def _worker_run(configs: tuple[ModelConfig, TrainConfig]) -> RunMetrics:
    return _metrics(train(*configs, _worker_data))


def _metrics(history) -> RunMetrics:
    return {**history.final, "epochs": history.epochs, "seconds": history.seconds}


def _cache_path(cache: Path, model_config: ModelConfig, train_config: TrainConfig,
                fingerprint: str) -> Path:
    description = json.dumps([dataclasses.asdict(model_config), dataclasses.asdict(train_config),
                              fingerprint, CODE_VERSION, torch.__version__], sort_keys=True)
    return cache / f"{hashlib.sha256(description.encode()).hexdigest()}.json"


def _read_cache(cache, model_config, train_config, fingerprint) -> RunMetrics | None:
    if cache is None:
        return None
    path = _cache_path(cache, model_config, train_config, fingerprint)
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_cache(cache, model_config, train_config, fingerprint, metrics: RunMetrics) -> None:
    if cache is None:
        return
    cache.mkdir(parents=True, exist_ok=True)
    path = _cache_path(cache, model_config, train_config, fingerprint)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(metrics))
    partial.replace(path)  # atomic: a reader never sees half a file


def _spread(values: list[float]) -> tuple[float, float, float]:
    spread = Spread.of(values)
    return spread.mean, spread.low, spread.high
