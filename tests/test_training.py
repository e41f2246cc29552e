import dataclasses

import pytest
import torch

from rnn_lesson.lessons.overfitting import FIX
from rnn_lesson.models import ModelConfig
from rnn_lesson.training import TrainConfig, evaluate, train

FAST = dataclasses.replace(FIX.train, max_epochs=30)


def test_same_seed_gives_a_bit_identical_history():
    a, b = train(FIX.model, FAST), train(FIX.model, FAST)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert getattr(a, key) == getattr(b, key)
    assert a.final == b.final
    c = train(FIX.model, dataclasses.replace(FAST, seed=1))
    assert c.val_loss != a.val_loss


def test_early_stopping_restores_the_best_epochs_weights():
    history = train(FIX.model, FAST)
    best = min(range(history.epochs), key=history.val_loss.__getitem__)
    assert history.best_epoch == best + 1
    assert history.restored_best and "early stopping" in history.stop_reason
    assert history.epochs == history.best_epoch + FAST.patience
    # the returned model is the best epoch's, not the last one's
    assert history.final.val_loss == history.val_loss[best]
    assert history.final.train_acc == history.train_acc[best]
    assert history.final.val_loss < history.val_loss[-1]


def test_without_early_stopping_the_last_epoch_is_kept_and_train_metrics_are_eval_mode():
    config = dataclasses.replace(FAST, early_stopping=False, max_epochs=5)
    history = train(FIX.model, config)
    assert history.epochs == 5 and not history.restored_best
    assert history.final.val_loss == history.val_loss[-1]
    data_free_check = evaluate(history.model, _course().train)
    assert history.train_acc[-1] == data_free_check[1]
    assert not history.model.training


def test_the_callback_sees_each_epoch_and_can_stop_the_run():
    seen = []

    def stop_after_two(history):
        seen.append(history.epochs)
        return history.epochs == 2

    history = train(FIX.model, FAST, on_epoch_end=stop_after_two)
    assert seen == [1, 2] and history.epochs == 2
    assert "callback" in history.stop_reason


def test_training_leaves_the_global_rng_and_thread_count_alone():
    torch.set_num_threads(2)  # a learner's own choice: train() keeps it
    try:
        torch.manual_seed(123)
        expected = torch.rand(3)
        torch.manual_seed(123)
        train(ModelConfig(hidden_size=8), dataclasses.replace(FAST, max_epochs=1))
        assert torch.equal(torch.rand(3), expected)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_importing_the_course_sets_one_torch_thread_in_a_fresh_process():
    import subprocess
    import sys

    code = "import torch; import rnn_lesson; print(torch.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


@pytest.mark.parametrize(
    "kwargs, word",
    [({"lr": 0}, "lr"), ({"batch_size": 0}, "batch_size"), ({"patience": 0}, "patience"),
     ({"max_epochs": 0}, "max_epochs"), ({"grad_clip": -1.0}, "grad_clip"),
     ({"weight_decay": -1e-4}, "weight_decay")],
)
def test_bad_training_settings_raise_a_clear_value_error(kwargs, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**kwargs)


def test_weight_decay_and_gradient_clipping_run_and_change_the_result():
    plain = train(FIX.model, dataclasses.replace(FAST, max_epochs=3, early_stopping=False))
    tuned = train(FIX.model, dataclasses.replace(
        FAST, max_epochs=3, early_stopping=False, weight_decay=1e-2, grad_clip=0.1))
    assert tuned.val_loss != plain.val_loss


def _course():
    from rnn_lesson.data import load_course_data

    return load_course_data()
