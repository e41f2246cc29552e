from rnn_lesson.experiments import BASELINE, REGULARIZED
from rnn_lesson.hints import HINTS, SOLUTION
from rnn_lesson.models import build_model, count_parameters
from rnn_lesson.widgets import HintPanel


def test_there_are_four_hints_like_the_lesson_then_a_solution():
    assert len(HINTS) == 4 and SOLUTION.title.startswith("Solution")


def test_hint_2s_capacity_claim_matches_the_models():
    ratio = count_parameters(build_model(BASELINE.model)) / count_parameters(build_model(REGULARIZED.model))
    assert round(ratio) == 14 and "14 times" in HINTS[1].text
    assert "150 training sequences" in HINTS[1].text


def test_hint_3s_claim_the_baselines_good_epoch_is_over_almost_at_once(baseline_history):
    assert baseline_history.best_epoch <= 2  # "lowest after the first couple of epochs"
    assert baseline_history.train_acc[4] >= 0.95  # "passes 95% within 5 epochs"
    assert "3e-3" in HINTS[2].text and "95% within 5 epochs" in HINTS[2].text


def test_the_solution_names_the_regularized_configuration():
    model, train = REGULARIZED.model, REGULARIZED.train
    assert (model.dropout, model.hidden_size, train.lr, train.patience) == (0.3, 32, 1e-3, 3)
    for text in ("Dropout 0.3", "hidden size 32", "lr 1e-3", "patience 3", "REGULARIZED"):
        assert text in SOLUTION.text


def test_the_hint_panel_reveals_one_step_per_click_then_stops():
    panel = HintPanel()
    assert panel.text.value == "" and panel.button.description == "Show hint 1"
    for shown in range(1, 6):
        panel.button.click()
        assert panel.shown == shown
        assert panel.text.value.count("<div") == shown
    assert panel.button.description == "All hints shown" and panel.button.disabled
    assert "Solution" in panel.text.value
