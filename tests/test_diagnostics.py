from rnn_lesson.data import load_course_data
from rnn_lesson.diagnostics import accuracy_on_subsets, accuracy_with_dropout_active
from rnn_lesson.training import evaluate


def test_subset_accuracies_center_on_the_full_value_and_move_in_steps_of_one_sequence(
        regularized_history):
    val = load_course_data().val
    full = evaluate(regularized_history.model, val)[1]
    subsets = accuracy_on_subsets(regularized_history.model, val, size=30, draws=400)
    assert abs(subsets.mean().item() - full) < 0.01
    assert subsets.max() - subsets.min() >= 0.15  # 30 sequences: a spread of many points
    assert ((subsets * 30).round() - subsets * 30).abs().max() < 1e-4


def test_dropout_active_accuracy_is_lower_and_leaves_the_model_in_eval_mode(regularized_history):
    model, train = regularized_history.model, load_course_data().train
    model.eval()
    active = accuracy_with_dropout_active(model, train)
    assert active < evaluate(model, train)[1]
    assert not model.training
    assert active == accuracy_with_dropout_active(model, train)  # seeded
