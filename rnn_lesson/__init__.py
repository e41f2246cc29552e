"""rnn_lesson: the small library behind the course.

    core           data.py, japanese_vowels.py, models.py, training.py (the one train())
    runs, results  many runs (workers, disk cache) and what they add up to (spreads, tables)
    ui/            figures and widgets
    lessons/       one module per notebook

Imports point one way: each layer uses only the layers listed before it. Importing the package
sets torch to one thread (`training.COURSE_THREADS`, which says why).
"""

import os as _os
import signal as _signal
import sys as _sys

INTERRUPTED = "\nInterrupted: runs that finished are kept in the cache; no other output was written.\n"


def _interrupted_while_loading(signum, frame) -> None:
    _sys.stderr.write(INTERRUPTED)
    _os._exit(130)


if _sys.argv[:1] == ["-m"]:  # `python -m rnn_lesson`: a Ctrl-C while torch loads prints one line
    _signal.signal(_signal.SIGINT, _interrupted_while_loading)  # (__main__ restores the default)

from .data import (
    COURSE_FINGERPRINT,
    COURSE_SPEC,
    Dataset,
    DatasetSpec,
    PaddedBatch,
    Split,
    ideal_predictions,
    load_course_data,
    make_dataset,
    make_variable_length_batch,
)
from .models import CELLS, ModelConfig, SequenceClassifier, build_model, count_parameters
from .training import History, Metrics, TrainConfig, evaluate, train, use_course_threads

use_course_threads()  # one torch thread for every computation of the course (training.py says why)

__all__ = [
    "CELLS",
    "COURSE_FINGERPRINT",
    "COURSE_SPEC",
    "Dataset",
    "DatasetSpec",
    "History",
    "Metrics",
    "ModelConfig",
    "PaddedBatch",
    "SequenceClassifier",
    "Split",
    "TrainConfig",
    "build_model",
    "count_parameters",
    "evaluate",
    "ideal_predictions",
    "load_course_data",
    "make_dataset",
    "make_variable_length_batch",
    "train",
]
