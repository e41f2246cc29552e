import torch

from rnn_lesson.data import (
    COURSE_FINGERPRINT,
    COURSE_SPEC,
    DatasetSpec,
    ideal_predictions,
    load_course_data,
    make_dataset,
    make_variable_length_batch,
)


def test_course_data_matches_its_recorded_fingerprint():
    # the value recorded when the data was designed (README, notebook 02): it never changes
    assert COURSE_FINGERPRINT == "64dd92bca4986b766bcbdef688aa1aa6df9848d28daf572b485195bdc914961b"
    assert make_dataset(COURSE_SPEC).fingerprint() == COURSE_FINGERPRINT
    assert load_course_data().fingerprint() == COURSE_FINGERPRINT


def test_splits_have_the_documented_sizes_shapes_and_types():
    data = load_course_data()
    for split, n in ((data.train, 200), (data.val, 1000), (data.test, 2000)):
        assert split.x.shape == (n, 20, 10) and split.x.dtype == torch.float32
        assert split.y.shape == (n,) and split.y.dtype == torch.int64
        assert set(split.y.tolist()) == {0, 1}


def test_best_possible_accuracy_is_one_minus_the_flip_rate():
    data = load_course_data()
    for split in (data.train, data.val, data.test):
        clean_correct = (ideal_predictions(split.x) == split.y).float().mean().item()
        # exactly 10% flipped; the matched filter errs on a handful of the clean ones at most
        assert 0.885 <= clean_correct <= 0.90
    assert COURSE_SPEC.best_possible_accuracy == 0.90


def test_splits_are_different_draws_and_a_spec_change_changes_the_fingerprint():
    data = load_course_data()
    assert not torch.equal(data.val.x[:200], data.train.x)
    assert make_dataset(DatasetSpec(flip_rate=0.12)).fingerprint() != COURSE_FINGERPRINT


def test_signal_steps_puts_the_ramp_only_in_the_first_steps():
    quiet = DatasetSpec(seq_len=30, signal_steps=10, distractor_std=0.0, flip_rate=0.0, n_train=4)
    x = make_dataset(quiet).train.x
    # after step 10 feature 0 is pure N(0, 1) noise: its mean carries no class information
    assert x[:, 10:, 0].abs().mean() < 1.5
    assert ideal_predictions(x, quiet).tolist() == make_dataset(quiet).train.y.tolist()


def test_variable_length_batch_is_zero_padded_after_each_length():
    batch = make_variable_length_batch(n=16, min_len=5, max_len=20)
    assert batch.x.shape == (16, 20, 10)
    assert batch.lengths.min() >= 5 and batch.lengths.max() <= 20
    for row, length in zip(batch.x, batch.lengths.tolist()):
        assert torch.all(row[length:] == 0) and torch.any(row[length - 1] != 0)
