"""A benchmark's own run cache and progress file, removed when it ends: never the learner's."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator


@contextlib.contextmanager
def isolated() -> Iterator[str]:
    """Point RNN_LESSON_CACHE and RNN_LESSON_PROGRESS at a temporary folder for the block."""
    saved = {name: os.environ.get(name) for name in ("RNN_LESSON_CACHE", "RNN_LESSON_PROGRESS")}
    with tempfile.TemporaryDirectory(prefix="rnn-lesson-bench-") as folder:
        os.environ["RNN_LESSON_CACHE"] = os.path.join(folder, "cache")
        os.environ["RNN_LESSON_PROGRESS"] = os.path.join(folder, "progress.json")
        try:
            yield folder
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
