"""The exhibit: the lesson's own script, and what its protocol does to the numbers it reports."""

import statistics

import torch

from rnn_lesson.data import load_course_data
from rnn_lesson.lessons.original_script import (accuracy_on_subsets, accuracy_with_dropout_active,
                                                run_lesson_code)
from rnn_lesson.training import evaluate


def test_the_lessons_code_learns_nothing_but_reports_its_luckiest_epoch():
    runs = [run_lesson_code(seed) for seed in range(12)]
    # random labels: the weights it ends with are at chance on average
    assert 35 <= statistics.mean(r["last_val_acc"] for r in runs) <= 65
    # reporting the maximum over epochs is never below the last value, and often above it
    assert all(r["best_val_acc"] >= r["last_val_acc"] for r in runs)
    assert any(r["best_val_acc"] > r["last_val_acc"] for r in runs)
    # a 30-sequence validation set moves in steps of 3.3 points
    for r in runs:
        assert abs(r["best_val_acc"] * 30 / 100 - round(r["best_val_acc"] * 30 / 100)) < 1e-4


def test_it_is_deterministic_per_seed():
    assert run_lesson_code(3) == run_lesson_code(3)


def test_subset_accuracies_center_on_the_full_value_and_move_in_steps_of_one_sequence(fix_history):
    val = load_course_data().val
    full = evaluate(fix_history.model, val)[1]
    subsets = accuracy_on_subsets(fix_history.model, val, size=30, draws=400)
    assert abs(subsets.mean().item() - full) < 0.01
    assert subsets.max() - subsets.min() >= 0.15  # 30 sequences: a spread of many points
    assert ((subsets * 30).round() - subsets * 30).abs().max() < 1e-4


def test_dropout_active_accuracy_is_lower_and_leaves_the_model_in_eval_mode(fix_history):
    model, train = fix_history.model, load_course_data().train
    model.eval()
    active = accuracy_with_dropout_active(model, train, draws=20)
    assert active.mean() < evaluate(model, train)[1]  # lower on average, and a random number:
    assert active.max() - active.min() >= 0.02  # one mask to the next moves it
    assert not model.training
    assert torch.equal(active, accuracy_with_dropout_active(model, train, draws=20))  # seeded
