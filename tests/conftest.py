import pytest

from rnn_lesson.experiments import BASELINE, REGULARIZED, run


@pytest.fixture(scope="session")
def baseline_history():
    """Seed 0 of the overfitting baseline (~3 s): trained once for every test that reads it."""
    return run(BASELINE, seed=0)


@pytest.fixture(scope="session")
def regularized_history():
    return run(REGULARIZED, seed=0)
