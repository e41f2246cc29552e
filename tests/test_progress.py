"""Progress that lasts: answers, test scores and verdicts survive a restart and two open notebooks;
a broken file is set aside with a message and nothing else is lost."""

import json
import multiprocessing

import pytest

import quizzes
from quizzes.progress import Progress
from quizzes.widgets import QuestionCard, TestCard


def test_an_answer_survives_a_kernel_restart(tmp_path):
    path = tmp_path / "progress.json"
    card = QuestionCard(quizzes.get_question("p3"), Progress(path))
    card.select("A")
    card.check()
    card.select("D")
    card.check()
    again = QuestionCard(quizzes.get_question("p3"), Progress(path))  # a new kernel, a new card
    assert again.radio.value == "D" and again.result.correct and again.attempts == 2
    assert "kept in your progress file" in again.feedback.value
    saved = Progress(path).answer("p3")
    assert saved["solved"] and saved["attempts"] == 2


def test_the_test_keeps_its_seed_answers_and_score_by_phase(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    progress.start_test("pre", 42)
    progress.record_test_answer("pre", "item-1", "A")
    progress.record_test_answer("pre", "item-2", "C")
    progress.record_test_answer("pre", "item-2", None)  # unanswered again
    progress.record_test_score("pre", 6, 10, {"easy": (3, 3), "medium": (2, 4), "hard": (1, 3)})
    saved = Progress(path).test("pre")
    assert saved["seed"] == 42 and saved["answers"] == {"item-1": "A"}
    assert saved["score"]["by_difficulty"]["medium"] == [2, 4]
    assert Progress(path).test("post") is None
    with pytest.raises(ValueError, match="phase"):
        progress.start_test("mid", 1)


def _answer_many(path: str, prefix: str) -> None:
    progress = Progress(path)
    for i in range(25):
        progress.record_answer(f"{prefix}{i}", "A", True)


def test_two_notebooks_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "progress.json")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_answer_many, args=(path, p)) for p in ("x", "y")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert all(w.exitcode == 0 for w in workers)
    assert len(Progress(path).load()["practice"]) == 50


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"practice": []}', b"\xff\xfe"],
                         ids=["not-json", "list", "wrong-shape", "not-text"])
def test_an_unreadable_file_is_set_aside_and_the_course_goes_on(tmp_path, content):
    path = tmp_path / "progress.json"
    path.write_bytes(content)
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert "was kept as" in progress.problem
    kept = list(tmp_path.glob("progress.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content  # nothing the learner had is lost
    assert Progress(path).answer("p1")["correct"]


def test_a_folder_in_place_of_the_file_is_reported_and_answers_are_kept_in_memory(tmp_path):
    path = tmp_path / "progress.json"
    path.mkdir()
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert "is a folder" in progress.problem and progress.answer("p1")["correct"]
    card = QuestionCard(quizzes.get_question("p1"), Progress(path))
    assert "is a folder" in card.feedback.value


def test_reset_starts_over_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    kept = progress.reset()
    assert Progress(path).answer("p1") is None
    assert json.loads(kept.read_text())["practice"]["p1"]["correct"]


def test_the_default_path_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_LESSON_PROGRESS", str(tmp_path / "mine.json"))
    assert Progress().path == tmp_path / "mine.json"


def test_the_progress_cell_shows_everything_and_resets_in_two_clicks(tmp_path):
    from quizzes.widgets import ProgressCard

    progress = Progress(tmp_path / "progress.json")
    progress.record_answer("p1", "B", False)
    progress.record_answer("p1", "A", True)
    progress.start_test("pre", 1)
    progress.record_test_score("pre", 4, 10, {"easy": (2, 3), "medium": (1, 4), "hard": (1, 3)})
    progress.start_test("post", 2)
    progress.record_test_score("post", 9, 10, {"easy": (3, 3), "medium": (4, 4), "hard": (2, 3)})
    progress.record_attempt("02 write the fix", {"passed": True, "train_acc": 0.9, "val_acc": 0.87,
                                                 "settings": "RNN 32", "rank": 0.87})
    progress.record_prediction("02 ablation", {"most": "a smaller hidden size"})
    card = ProgressCard(progress)
    text = card.summary
    assert "notebook 01: 1/6 solved" in text and "p1 solved in 2 tries" in text
    assert "Pre-test: 4/10 (easy 2/3, medium 1/4, hard 1/3)" in text
    assert "Post-test: 9/10 (easy 3/3, medium 4/4, hard 2/3)" in text
    assert "Gain: +5 of 10 (easy +1, medium +3, hard +1)" in text
    assert "Exercise '02 write the fix': passed (best of 1 attempt: attempt 1, val 87.0%, " \
           "train 90.0%; RNN 32)" in text
    assert "Prediction '02 ablation': a smaller hidden size" in text
    assert "p1" not in card.static_html()  # a saved notebook never holds the learner's progress
    card.reset_button.click()
    assert progress.answer("p1") is not None  # one click only asks
    card.reset_button.click()
    assert progress.answer("p1") is None and "kept as" in card.text.value


def test_a_failed_save_keeps_what_was_there_and_the_next_save_tries_again(tmp_path, monkeypatch):
    import os

    progress = Progress(tmp_path / "progress.json")
    progress.record_answer("p1", "A", True)
    real_replace = os.replace

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    progress.record_answer("p2", "C", True)
    assert "could not be saved" in progress.problem
    assert progress.answer("p1")["correct"]  # what was saved before is still shown
    monkeypatch.setattr(os, "replace", real_replace)
    progress.record_answer("p3", "D", True)
    assert progress.problem == "" and Progress(progress.path).answer("p3")["correct"]


def test_run_numbers_come_from_the_file_so_two_kernels_never_collide(tmp_path):
    first, second = Progress(tmp_path / "p.json"), Progress(tmp_path / "p.json")
    assert [first.add_run({"x": 1}), second.add_run({"x": 2}), first.add_run({"x": 3})] == [1, 2, 3]
    assert [r["x"] for r in first.runs()[0]] == [1, 2, 3]
