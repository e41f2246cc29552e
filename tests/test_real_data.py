"""The shipped Japanese Vowels files, the .ts parser and the loader (all fast: no training)."""

import dataclasses
import hashlib
from importlib import resources

import numpy as np
import pytest
import torch

from rnn_lesson.japanese_vowels import (
    DATA_DIR,
    FILE_SHA256,
    JAPANESE_VOWELS_FINGERPRINT,
    TEST_FILE,
    TRAIN_FILE,
    TsFormatError,
    load_japanese_vowels,
    pad_series,
    parse_ts,
    read_ts,
    train_subset,
    without_lengths,
)

# The tensors of load_japanese_vowels(standardize=False), recorded once like the default's.
RAW_FINGERPRINT = "be7fd83562eee09a5a229212161b0084cfad047d86e6a9269cd5e03856bc9259"


@pytest.fixture(scope="module")
def data():
    return load_japanese_vowels()


@pytest.fixture(scope="module")
def raw():
    return load_japanese_vowels(standardize=False)


def test_files_ship_in_the_package_with_their_sha256():
    package_dir = resources.files("rnn_lesson") / "datasets" / "japanese_vowels"
    for name in (TRAIN_FILE, TEST_FILE, "README.md"):
        assert (package_dir / name).is_file(), name
    for name, expected in FILE_SHA256.items():
        assert hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest() == expected
        assert expected in (DATA_DIR / "README.md").read_text()  # the README states it


def test_tensor_fingerprints(data, raw):
    assert data.fingerprint() == JAPANESE_VOWELS_FINGERPRINT
    assert raw.fingerprint() == RAW_FINGERPRINT


def test_official_files_parse_to_270_and_370_cases():
    train, test = read_ts(DATA_DIR / TRAIN_FILE), read_ts(DATA_DIR / TEST_FILE)
    assert (len(train), len(test)) == (270, 370)
    assert train.class_labels == tuple("123456789")
    assert [train.labels.count(c) for c in "123456789"] == [30] * 9
    assert [test.labels.count(c) for c in "123456789"] == [31, 35, 88, 44, 29, 24, 40, 50, 29]
    lengths = train.lengths + test.lengths
    assert (min(lengths), max(lengths)) == (7, 29)
    assert all(s.shape[1] == 12 for s in train.series + test.series)
    assert not any(np.isnan(s).any() for s in train.series + test.series)  # '@missing false'
    assert train.series[0][0, 0] == 1.860936 and train.series[0][0, 1] == -0.207383  # frame 1


def test_splits_shapes_classes_and_lengths(data):
    sizes = {"train": 180, "val": 90, "test": 370}
    for name, split in (("train", data.train), ("val", data.val), ("test", data.test)):
        assert split.x.shape == (sizes[name], 29, 12) and split.x.dtype == torch.float32
        assert split.y.dtype == torch.int64 and split.lengths.dtype == torch.int64
        assert split.y.min() == 0 and split.y.max() == 8
        assert 7 <= split.lengths.min() and split.lengths.max() <= 29
    assert torch.bincount(data.train.y).tolist() == [20] * 9  # stratified by speaker
    assert torch.bincount(data.val.y).tolist() == [10] * 9
    assert data.test.lengths.min() == 7 and data.test.lengths.max() == 29


def test_padding_is_zero_after_each_length_and_frames_are_not(data, raw):
    for dataset in (data, raw):
        for split in (dataset.train, dataset.val, dataset.test):
            valid = torch.arange(29)[None, :] < split.lengths[:, None]
            assert (split.x[~valid] == 0).all()
            assert (split.x[valid].abs().sum(dim=1) > 0).all()  # no real frame is all zeros


def test_val_comes_from_the_official_train_and_test_is_untouched(data, raw):
    train_file = read_ts(DATA_DIR / TRAIN_FILE)
    official = {s.astype(np.float32).tobytes() for s in train_file.series}
    for split in (raw.train, raw.val):
        for x, n in zip(split.x, split.lengths):
            assert x[:n].numpy().tobytes() in official
    test_file = read_ts(DATA_DIR / TEST_FILE)
    x, lengths = pad_series(test_file.series)
    assert torch.equal(raw.test.x, x) and torch.equal(raw.test.lengths, lengths)  # file order


def test_standardized_with_train_statistics_only(data):
    frames = data.train.x[torch.arange(29)[None, :] < data.train.lengths[:, None]].double()
    assert frames.mean(dim=0).abs().max() < 1e-6
    assert (frames.std(dim=0) - 1).abs().max() < 1e-6
    val = data.val.x[torch.arange(29)[None, :] < data.val.lengths[:, None]]
    assert val.mean(dim=0).abs().max() > 1e-3  # val was not used for the statistics


def test_train_subset_and_without_lengths(data):
    small = train_subset(data, per_class=5)
    assert torch.bincount(small.train.y).tolist() == [5] * 9
    assert small.val is data.val and small.test is data.test
    assert torch.equal(train_subset(data, 5).train.x, small.train.x)  # deterministic
    assert train_subset(data, 5, seed=1).train.lengths.tolist() != small.train.lengths.tolist()
    with pytest.raises(ValueError, match="per_class"):
        train_subset(data, per_class=21)
    bare = without_lengths(data)
    assert bare.train.lengths is None and torch.equal(bare.test.x, data.test.x)


# The parser, on small strings.

GOOD = """# a comment
@problemName Tiny
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b

@data
1,2,3:4,5,6:a
7.5,-8e-1:9,10:b
"""


def test_parse_variable_lengths():
    parsed = parse_ts(GOOD)
    assert parsed.class_labels == ("a", "b") and parsed.labels == ["a", "b"]
    assert parsed.lengths == [3, 2]
    np.testing.assert_array_equal(parsed.series[0], [[1, 4], [2, 5], [3, 6]])  # (length, dims)
    np.testing.assert_array_equal(parsed.series[1], [[7.5, 9], [-0.8, 10]])
    assert parsed.header["problemname"] == "Tiny"
    x, lengths = pad_series(parsed.series)
    assert x.shape == (2, 3, 2) and lengths.tolist() == [3, 2]
    assert (x[1, 2] == 0).all() and x[1, 1].tolist() == [-0.8000000119209290, 10.0]


def test_parse_windows_line_endings_and_missing_values():
    assert parse_ts(GOOD.replace("\n", "\r\n")).lengths == [3, 2]
    with_missing = GOOD.replace("@missing false", "@missing true").replace("1,2,3", "1,?,3")
    assert np.isnan(parse_ts(with_missing).series[0][1, 0])


@pytest.mark.parametrize(
    "bad, message",
    [
        (GOOD.replace("7.5,", "7.5x,"), r"line 12, dimension 1: expected a number, got '7.5x'"),
        (GOOD.replace("9,10:b", "9:b"), r"line 12: expected all dimensions .* same length"),
        (GOOD.replace("4,5,6:a", "a"), r"line 11: expected 2 dimensions separated by ':'"),
        (GOOD.replace(":b\n", ":c\n"), r"line 12: expected a class label among a b"),
        (GOOD.replace("1,2,3", "1,?,3"), r"line 11, dimension 1: a missing value '\?'"),
        (GOOD.replace("@data\n", ""), r"expected a case|expected a header line"),
        (GOOD.replace("@data\n", "@data\n@extra 1\n"), r"line 11: expected a case after '@data'"),
        (GOOD.split("@data")[0] + "@data\n", r"expected at least one case"),
        (GOOD.replace("@timeStamps false", "@timeStamps true"), r"not supported"),
        (GOOD.replace("@dimensions 2", "@dimensions 2x"), r"expected an integer after '@dim"),
        (GOOD.replace("@equalLength false", "@equalLength true"), r"'@equalLength true'"),
        ("@problemName x\n", r"expected a line '@data'"),
    ],
)
def test_parse_errors_name_the_line_and_what_was_expected(bad, message):
    with pytest.raises(TsFormatError, match=message):
        parse_ts(bad, source="tiny.ts")


def test_a_changed_file_is_refused(tmp_path, monkeypatch):
    import rnn_lesson.japanese_vowels as real_data

    for name in FILE_SHA256:
        (tmp_path / name).write_bytes((DATA_DIR / name).read_bytes())
    changed = (DATA_DIR / TEST_FILE).read_bytes().replace(b"0.4", b"0.5", 1)
    (tmp_path / TEST_FILE).write_bytes(changed)
    with pytest.raises(RuntimeError, match="does not match its recorded sha256"):
        real_data.verify_files(tmp_path)
    (tmp_path / TRAIN_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        real_data.verify_files(tmp_path)


# The notebook's helpers (rnn_lesson.lessons.real_data), on tiny runs.


def test_configurations():
    from rnn_lesson.lessons.overfitting import BASELINE
    from rnn_lesson.lessons.real_data import FIX_MODEL, LESSON_FIX, OVERFIT, fix

    assert OVERFIT.model == dataclasses.replace(BASELINE.model, input_size=12, num_classes=9)
    assert OVERFIT.train == BASELINE.train
    assert fix("lstm").model == dataclasses.replace(FIX_MODEL, cell="lstm")
    assert LESSON_FIX.model.hidden_size == 32 and LESSON_FIX.train.lr == 1e-3


def test_run_seeds_table_and_figures(data):
    from rnn_lesson.lessons.real_data import (fix, length_only_accuracy, plot_curves,
                                              plot_dataset, plot_seed_dots, run_seeds, small, table)

    quick = fix("rnn")
    quick = dataclasses.replace(quick, train=dataclasses.replace(quick.train, max_epochs=2))
    runs = run_seeds(quick, small(2), seeds=(0, 1), name="q", workers=1)
    assert [len(h.train_loss) for h in runs.runs] == [2, 2]
    assert runs.values("epochs") == [2.0, 2.0] and runs.seeds == (0, 1)
    lines = str(table([runs], metrics=("train_acc", "val_loss", "epochs"))).splitlines()
    assert lines[0].split() == ["train_acc", "val_loss", "epochs", "seeds"]
    assert lines[1].startswith("q ") and lines[1].endswith("2") and "%" in lines[1]
    assert len(runs.values("test_acc_other_lengths")) == 2
    assert 0.15 <= length_only_accuracy(data) <= 0.30
    plot_dataset(data)
    plot_curves(runs.runs[0], "title")
    plot_seed_dots({"group": {"rnn": runs.values("test_acc")}})


# Section 6 of notebook 04: the recipe chosen on folds of the 270, the final run, the published
# table (no 120-epoch training here: tiny runs and hand-made records only).


def test_fold_and_final_data_never_hold_the_test_set():
    from rnn_lesson.japanese_vowels import stratified_folds

    train_file = read_ts(DATA_DIR / TRAIN_FILE)
    for k in range(3):
        fold = load_japanese_vowels(differences=True, fold=k)
        # padded to the longest of the 270 training utterances (26 frames); 12 coefficients and
        # their 12 first differences
        assert fold.train.x.shape == (180, 26, 24) and fold.val.x.shape == (90, 26, 24)
        assert fold.test is fold.val or torch.equal(fold.test.x, fold.val.x)
        assert torch.equal(fold.test.y, fold.val.y)
        assert torch.bincount(fold.train.y).tolist() == [20] * 9
        assert torch.bincount(fold.val.y).tolist() == [10] * 9
    labels = [train_file.class_labels.index(label) for label in train_file.labels]
    folds = stratified_folds(labels, 3, seed=0)
    assert sorted(i for f in folds for i in f) == list(range(270))  # disjoint, and cover the 270
    final = load_japanese_vowels(val_fraction=0, differences=True)
    assert final.train.x.shape == (270, 29, 24) and final.test.x.shape == (370, 29, 24)
    assert torch.bincount(final.train.y).tolist() == [30] * 9
    with pytest.raises(ValueError, match="fold"):
        load_japanese_vowels(fold=3)


def test_first_differences_are_the_change_from_the_previous_frame():
    raw = load_japanese_vowels(val_fraction=0, standardize=False, differences=True)
    x, n = raw.train.x[0], int(raw.train.lengths[0])
    assert torch.equal(x[0, 12:], torch.zeros(12))  # the first frame has no previous one
    assert torch.allclose(x[1:n, 12:], x[1:n, :12] - x[: n - 1, :12], atol=1e-6)
    assert (x[n:] == 0).all()  # padding stays zero


def test_final_epochs_keeps_the_number_of_optimizer_steps():
    from rnn_lesson.lessons.real_data import final_epochs

    assert final_epochs(116) == 77  # 116 x 6 batches of 180 = 696 steps = 77.3 x 9 batches of 270
    assert final_epochs(120) == 80 and final_epochs(3) == 2
    assert final_epochs(10, train_before=270, train_after=270) == 10


def _record(val_loss, test_acc=0.5, seed=0):
    from rnn_lesson.training import History, Metrics
    from rnn_lesson.lessons.real_data import RECIPE

    train = dataclasses.replace(RECIPE.train, seed=seed)
    return History(RECIPE.model, train, train_loss=[1.0] * len(val_loss),
                   train_acc=[0.5] * len(val_loss), val_loss=list(val_loss),
                   val_acc=[0.5] * len(val_loss),
                   final=Metrics(0.1, 1.0, 0.1, 1.0, 0.1, test_acc))


def test_choose_epochs_takes_the_lowest_mean_validation_loss():
    from rnn_lesson.lessons.real_data import choose_epochs, plot_fold_choice
    from rnn_lesson.results import Group

    folds = Group("folds", [_record([3, 2, 1, 2]), _record([3, 1, 2, 2]), _record([3, 2, 1.5, 1])])
    best, mean = choose_epochs(folds)
    assert mean == pytest.approx([3, 5 / 3, 4.5 / 3, 5 / 3])
    assert best == 3  # the lowest mean, which is not every fold's own best epoch
    plot_fold_choice(folds, best, mean)


def test_published_table_and_standing():
    from rnn_lesson.lessons.real_data import (PUBLISHED, SOURCES, published_standing,
                                              published_table)
    from rnn_lesson.results import Group

    ours = Group("final", [_record([1.0], test_acc=a, seed=s) for s, a in enumerate((0.98, 0.99))])
    text = published_table(ours)
    for name, accuracy, key in PUBLISHED:
        assert name in text and f"{100 * accuracy:.1f}%" in text and key in SOURCES
    for key, reference in SOURCES.items():
        assert f"{key}: {reference}" in text
    assert "this course: GRU 2x64 + first differences (2 seeds)" in text
    assert "98.5%" in text and "98.0-99.0% over seeds" in text
    rows = [line for line in text.splitlines() if line.strip().endswith(tuple(SOURCES)) or
            "this course" in line]
    assert len(rows) == len(PUBLISHED) + 1
    values = [float(line.split("%")[0]) for line in rows]
    assert values == sorted(values, reverse=True)  # best first
    below, above = published_standing(ours)
    assert sorted(below + above) == sorted(name for name, _, _ in PUBLISHED)
    assert all(acc < 0.985 for name, acc, _ in PUBLISHED if name in below)
    assert all(acc >= 0.985 for name, acc, _ in PUBLISHED if name in above)


def test_measure_speakers_on_a_tiny_run():
    from rnn_lesson.lessons.real_data import RECIPE, measure_speakers

    data = load_japanese_vowels(val_fraction=0, differences=True)
    quick = dataclasses.replace(RECIPE, train=dataclasses.replace(RECIPE.train, max_epochs=1))
    history = quick.run(seed=0, data=data)
    per_speaker = measure_speakers(history, data)
    assert sorted(per_speaker) == [f"speaker_{c}" for c in range(1, 10)]
    counts = torch.bincount(data.test.y).tolist()
    overall = sum(n * per_speaker[f"speaker_{c + 1}"] for c, n in enumerate(counts)) / sum(counts)
    assert overall == pytest.approx(history.final.test_acc, abs=1e-6)


def test_the_chance_line_is_dotted_like_every_reference_line():
    from rnn_lesson.lessons.real_data import CHANCE, plot_seed_dots

    assert CHANCE.style == ":"
    fig = plot_seed_dots({"a": {"rnn": [0.5, 0.6]}})
    chance = [line for line in fig.axes[0].get_lines() if line.get_label() == CHANCE.label]
    assert len(chance) == 1 and chance[0].get_linestyle() == ":"


def test_what_a_step_costs_is_counted_not_timed():
    from rnn_lesson.lessons.real_data import fix, multiply_adds_per_step, weights
    from rnn_lesson.models import build_model, count_parameters

    rnn, lstm = fix("rnn").model, fix("lstm").model
    assert weights(rnn) == count_parameters(build_model(rnn))
    # one block of weight matrices per layer for nn.RNN, four for nn.LSTM: 64 x (12 + 64) + 64 x 128
    assert multiply_adds_per_step(rnn) == 64 * (12 + 64) + 64 * (64 + 64)
    assert multiply_adds_per_step(lstm) == 4 * multiply_adds_per_step(rnn)
