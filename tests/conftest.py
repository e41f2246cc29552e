import pytest

from rnn_lesson.lessons.overfitting import BASELINE, FIX


@pytest.fixture(scope="session")
def baseline_history():
    """Seed 0 of the overfitting baseline (~3 s): trained once for every test that reads it."""
    return BASELINE.run(seed=0)


@pytest.fixture(scope="session")
def fix_history():
    return FIX.run(seed=0)


@pytest.fixture(autouse=True)
def own_progress_file(tmp_path, monkeypatch):
    """Every test writes its progress to its own file, never the learner's."""
    monkeypatch.setenv("RNN_LESSON_PROGRESS", str(tmp_path / "progress.json"))
