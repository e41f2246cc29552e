"""Progress is never lost while the kernel lives, whatever the file system does, and the course
never writes through a link or into a special file (issue 17's probes, each a test)."""

import json
import os
import stat
import tempfile
import threading

import pytest

import quizzes
import quizzes.widgets
from quizzes import progress as progress_module
from quizzes.progress import RUN_LOG_LIMIT, Progress


def answers_in_file(path) -> dict:
    return json.loads(path.read_text())["practice"]


def test_an_answer_given_while_the_folder_cannot_be_made_is_kept_and_saved_later(tmp_path):
    blocker = tmp_path / "course"
    blocker.write_text("a regular file where the progress folder should be")
    path = blocker / "progress.json"
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert "could not be saved" in progress.problem and "kept in memory" in progress.problem
    assert progress.answer("p1")["correct"]  # right after: the answer is there
    blocker.unlink()  # the learner fixes it
    progress.record_answer("p2", "C", True)
    assert progress.problem == ""
    assert set(answers_in_file(path)) == {"p1", "p2"}  # both saved, the first one too


def test_forty_answers_on_a_full_disk_are_all_saved_once_space_is_back(tmp_path, monkeypatch):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    path = tmp_path / "progress.json"
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    progress.record_answer("p2", "C", True)
    real_mkstemp = tempfile.mkstemp

    def full_disk(dir=None, prefix=None, suffix=None):
        descriptor, name = real_mkstemp(dir=dir, prefix=prefix, suffix=suffix)
        os.dup2(os.open("/dev/full", os.O_WRONLY), descriptor)
        return descriptor, name

    monkeypatch.setattr(tempfile, "mkstemp", full_disk)
    for i in range(40):
        progress.record_answer(f"q{i}", "B", False)
    assert "No space left on device" in progress.problem
    assert len(progress.load()["practice"]) == 42  # all in memory, shown
    assert set(answers_in_file(path)) == {"p1", "p2"}  # the file is intact, not truncated
    assert not list(tmp_path.glob(".progress.json.*.tmp"))  # no partial file left behind
    monkeypatch.setattr(tempfile, "mkstemp", real_mkstemp)
    progress.record_answer("p3", "D", True)
    assert len(answers_in_file(path)) == 43 and progress.problem == ""


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    path = tmp_path / "progress.json"
    (tmp_path / ".progress.json.lock").symlink_to(precious)
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert precious.read_text() == "keep me"
    assert "could not be saved" in progress.problem and progress.answer("p1")["correct"]


def test_temporary_files_never_follow_a_planted_link(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    path = tmp_path / "progress.json"
    for name in (f".progress.json.{os.getpid()}.tmp", ".progress.json.tmp", "progress.json.tmp"):
        (tmp_path / name).symlink_to(precious)  # every name an older version would have used
    Progress(path).record_answer("p1", "A", True)
    assert precious.read_text() == "keep me" and Progress(path).answer("p1")["correct"]


def test_a_symlink_as_the_progress_file_is_never_written_through(tmp_path):
    precious = tmp_path / "precious.json"
    precious.write_text('{"not": "progress"}')
    path = tmp_path / "progress.json"
    path.symlink_to(precious)
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert precious.read_text() == '{"not": "progress"}' and path.is_symlink()
    assert "symbolic link" in progress.problem and progress.answer("p1")["correct"]


def test_a_named_pipe_as_the_progress_path_never_blocks_and_is_left_alone(tmp_path):
    path = tmp_path / "progress.json"
    os.mkfifo(path)
    done = []
    thread = threading.Thread(target=lambda: done.append(Progress(path).load()), daemon=True)
    thread.start()
    thread.join(10)
    assert done, "reading the progress file blocked on a named pipe"
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert "special file" in progress.problem and progress.answer("p1")["correct"]
    assert path.exists() and not list(tmp_path.glob("progress.json.*"))  # not renamed


def test_a_device_as_the_progress_path_is_not_renamed_and_gets_no_lock_beside_it(tmp_path):
    path = tmp_path / "progress.json"
    try:  # a device like /dev/null, made in the test's own folder (never touching /dev)
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("making a device needs root")
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert "special file" in progress.problem and progress.answer("p1")["correct"]
    progress.clear_runs()
    progress.reset()
    assert stat.S_ISCHR(os.lstat(path).st_mode)  # still there, never renamed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.json"]  # no lock, no copy


def test_no_lock_file_is_made_beside_a_special_file(tmp_path):
    path = tmp_path / "progress.json"
    os.mkfifo(path)
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    progress.add_run({"x": 1})
    progress.clear_runs()
    assert progress.answer("p1")["correct"] and "special file" in progress.problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["progress.json"]


@pytest.mark.parametrize("text", ["[" * 100_000, '{"practice": ' * 100_000],
                         ids=["brackets", "objects"])
def test_deeply_nested_json_is_set_aside_not_a_recursion_error(tmp_path, text):
    path = tmp_path / "progress.json"
    path.write_text(text)
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert "was kept as" in progress.problem and Progress(path).answer("p1")["correct"]
    assert len(list(tmp_path.glob("progress.json.unreadable-*"))) == 1


def test_a_wrong_shaped_entry_is_left_out_with_a_copy_and_the_check_button_works(tmp_path):
    path = tmp_path / "progress.json"
    bad = {"version": 2, "practice": {"p1": [1, 2], "p2": {"answer": "C", "correct": True,
                                                            "attempts": 1, "solved": True}},
           "tests": {}, "verdicts": {"x": "not an object"}, "predictions": {}, "runs": []}
    path.write_text(json.dumps(bad))
    card = quizzes.widgets.QuestionCard(quizzes.get_question("p1"), Progress(path))
    card.select("A")
    assert card.check().correct  # no AttributeError
    assert "unexpected shape" in card.feedback.value or "unexpected shape" in card.progress.problem
    kept = list(tmp_path.glob("progress.json.unexpected-*"))
    assert len(kept) == 1 and json.loads(kept[0].read_text()) == bad  # nothing lost
    saved = json.loads(path.read_text())
    assert saved["practice"]["p2"]["answer"] == "C" and "x" not in saved["verdicts"]


def test_a_version_1_file_is_read_and_its_verdict_becomes_the_first_attempt(tmp_path):
    path = tmp_path / "progress.json"
    old = {"version": 1, "practice": {}, "test": {"answers": {"p1": "A"}}, "runs": [],
           "verdicts": {"02 write the fix": {"passed": True, "val_acc": 0.87, "train_acc": 0.9,
                                             "settings": "RNN 32", "at": "2026-01-01T10:00:00"}}}
    path.write_text(json.dumps(old))
    progress = Progress(path)
    entry = progress.verdict("02 write the fix")
    assert entry["best"]["passed"] and entry["attempts"][0]["val_acc"] == 0.87
    progress.record_answer("p1", "A", True)
    saved = json.loads(path.read_text())
    assert saved["version"] == 2 and saved["test"] == {"answers": {"p1": "A"}}  # nothing dropped


def test_the_run_log_is_read_from_its_end_and_numbers_never_repeat(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    numbers = [progress.add_run({"x": i}) for i in range(RUN_LOG_LIMIT + 5)]
    assert numbers == list(range(1, RUN_LOG_LIMIT + 6))
    rows, unreadable, total = progress.runs()
    assert len(rows) == RUN_LOG_LIMIT and rows[0]["run"] == 6 and unreadable == 0
    assert total == RUN_LOG_LIMIT + 5
    assert "runs" not in json.loads(path.read_text())  # the log is a file of its own
    progress.clear_runs()
    assert progress.runs() == ([], 0, 0)
    assert len(list(tmp_path.glob("progress.json.runs-cleared-*"))) == 1  # kept, not deleted
    assert progress.add_run({"x": "after"}) == RUN_LOG_LIMIT + 6


def test_a_bad_line_of_the_run_log_is_skipped_alone_and_a_linked_log_is_never_written(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    progress.add_run({"x": 1})
    with open(progress.runs_path, "a") as log:
        log.write("{not json\n" + "[" * 100_000 + "\n")
    progress.add_run({"x": 2})
    rows, unreadable, _ = Progress(path).runs()
    assert [r["x"] for r in rows] == [1, 2] and unreadable == 2
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    progress.runs_path.unlink()
    progress.runs_path.symlink_to(precious)
    progress.add_run({"x": 3})
    assert precious.read_text() == "keep me" and "could not be saved" in progress.problem


def test_rows_an_older_version_kept_inside_the_file_move_to_the_log_once(tmp_path):
    path = tmp_path / "progress.json"
    old = {"version": 1, "practice": {}, "test": {}, "verdicts": {},
           "runs": [{"run": 1, "x": "a"}, {"run": 2, "x": "b"}]}
    path.write_text(json.dumps(old))
    progress = Progress(path)
    assert [r["x"] for r in progress.runs()[0]] == ["a", "b"]  # shown before any save
    assert progress.add_run({"x": "c"}) == 3
    assert [(r["run"], r["x"]) for r in Progress(path).runs()[0]] == [(1, "a"), (2, "b"), (3, "c")]


def test_best_attempt_is_never_replaced_by_a_worse_one(tmp_path):
    progress = Progress(tmp_path / "progress.json")
    progress.record_attempt("task", {"passed": True, "rank": 0.86, "code": "good"})
    entry = progress.record_attempt("task", {"passed": False, "rank": 0.90, "code": "worse"})
    assert entry["best"]["code"] == "good" and entry["best"]["n"] == 1
    entry = progress.record_attempt("task", {"passed": True, "rank": 0.88, "code": "better"})
    assert entry["best"]["code"] == "better" and [a["n"] for a in entry["attempts"]] == [1, 2, 3]


def test_two_progress_objects_see_each_others_pending_changes_once_saved(tmp_path):
    first, second = Progress(tmp_path / "p.json"), Progress(tmp_path / "p.json")
    first.record_answer("p1", "A", True)
    second.record_answer("p2", "C", True)
    assert set(first.load()["practice"]) == {"p1", "p2"}


def test_the_module_writes_atomically_and_removes_its_partial_file_on_failure(tmp_path):
    target = tmp_path / "x.json"
    with pytest.raises(TypeError):
        progress_module.write_atomically(target, None)  # fails while writing
    assert not target.exists() and not list(tmp_path.iterdir())
