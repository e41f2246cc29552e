"""rnn_lesson: the small library behind the course (data, model, training loop, experiments, plots)."""

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
from .training import History, TrainConfig, evaluate, train

__all__ = [
    "CELLS",
    "COURSE_FINGERPRINT",
    "COURSE_SPEC",
    "Dataset",
    "DatasetSpec",
    "History",
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
