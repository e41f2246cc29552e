"""Progress is never lost while the kernel lives, whatever the file system does, and the course
never writes through a link or into a special file (issue 17's probes, each a test)."""

import contextlib
import json
import os
import stat
import tempfile
import threading

import pytest

import quizzes
from thread_helpers import in_thread
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


# ---------------------------------------------------------------------------------------------
# Each protection caught when it is broken: the opening itself refuses what the look before it
# missed, the log's tail, a row logged twice, the thread lock


@pytest.mark.parametrize("place", ["progress", "log", "lock"])
@pytest.mark.parametrize("thing", ["link", "pipe"])
def test_a_link_or_a_pipe_put_there_after_the_look_is_refused_by_the_opening(tmp_path, monkeypatch,
                                                                            place, thing):
    """A link or a pipe may take a file's place between the look at it (lstat) and its opening:
    the opening refuses it too (O_NOFOLLOW, O_NONBLOCK, then fstat). The look is skipped here, as
    if the swap came right after it."""
    path = tmp_path / "progress.json"
    progress = Progress(path)
    target = {"progress": path, "log": progress.runs_path,
              "lock": tmp_path / ".progress.json.lock"}[place]
    precious = tmp_path / "precious.json"
    precious.write_text(json.dumps({**progress_module.empty(), "practice": {"p9": {
        "answer": "A", "attempts": 1, "correct": True, "solved": True}}}))
    original = precious.read_bytes()
    if thing == "link":
        target.symlink_to(precious)
    else:
        os.mkfifo(target)
    kind = os.lstat(target).st_mode
    monkeypatch.setattr(progress_module, "_kind", lambda path: "")

    def use():
        progress.record_answer("p1", "A", True)
        progress.add_run({"x": 1})
        return Progress(path).runs(), Progress(path).answer("p9"), progress.problem

    (rows, _, _), read_through, problem = in_thread(use)
    assert precious.read_bytes() == original and os.lstat(target).st_mode == kind
    assert read_through is None and "kept in memory" in problem
    assert ("symbolic link" if thing == "link" else "special file") in problem
    assert progress.answer("p1")["correct"] and [r["x"] for r in rows] == [1]
    monkeypatch.undo()
    target.unlink()
    progress.record_answer("p2", "B", True)
    assert set(answers_in_file(path)) == {"p1", "p2"} and progress.problem == ""
    assert [r["x"] for r in Progress(path).runs()[0]] == [1]


def test_what_is_not_a_regular_file_is_never_even_opened(tmp_path, monkeypatch):
    """A device may act on being opened (a watchdog, a serial line): a pipe stands for one here."""
    path = tmp_path / "progress.json"
    progress = Progress(path)
    for place in (path, progress.runs_path, tmp_path / ".progress.json.lock"):
        os.mkfifo(place)
    real_open, opened = os.open, []

    def watched(name, *args, **kwargs):
        with contextlib.suppress(OSError):
            if stat.S_ISFIFO(os.lstat(name).st_mode):
                opened.append(os.fspath(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched)
    progress.load()
    progress.record_answer("p1", "A", True)
    progress.add_run({"x": 1})
    progress.runs()
    path.unlink()  # the progress file can be used now: its lock and its log are looked at too
    progress.record_answer("p2", "A", True)
    progress.runs()
    progress.clear_runs()
    assert opened == [] and progress.answer("p2")


def test_a_line_cut_where_the_reading_of_the_log_starts_is_not_counted_unreadable(tmp_path,
                                                                                  monkeypatch):
    progress = Progress(tmp_path / "progress.json")
    progress.add_run({"x": "a" * 200})
    with open(progress.runs_path, "a") as log:
        log.write("\n\n\n")  # blank lines (an editor's): they are not rows
    progress.add_run({"x": "b"})
    last = progress.runs_path.read_bytes().splitlines()[-1]
    monkeypatch.setattr(progress_module, "_TAIL_STEP", len(last) + 1 + 3 + 1 + 10)
    rows, unreadable, _ = progress.runs(2)  # the reading starts 10 bytes before the first row ends
    assert [r["x"] for r in rows] == ["b"] and unreadable == 0


def test_an_old_files_rows_moved_to_the_log_twice_show_once(tmp_path):
    """A kernel that stopped after moving an old file's rows to the log but before rewriting the
    file moves them again on the next read: each shows once, and numbers go on after them."""
    path = tmp_path / "progress.json"
    old = [{"run": 1, "x": "a"}, {"run": 2, "x": "b"}]
    path.write_text(json.dumps({**progress_module.empty(), "runs": old}))
    progress = Progress(path)
    progress.runs_path.write_text("".join(json.dumps(row) + "\n"
                                          for row in progress_module._legacy_rows(old)))
    rows, unreadable, _ = progress.runs()
    assert [(r["run"], r["x"]) for r in rows] == [(1, "a"), (2, "b")] and unreadable == 0
    assert len(progress.runs_path.read_text().splitlines()) == 4  # moved again, as said
    assert progress.add_run({"x": "c"}) == 3


def test_a_save_waits_for_the_save_another_thread_is_making(tmp_path, monkeypatch):
    """The panel saves from a thread of its own: a save that starts while another is writing
    waits for it (before: both applied the first change, and the second was lost)."""
    path = tmp_path / "progress.json"
    real, others = progress_module.write_atomically, []

    def slow(target, content):
        if not others:
            others.append(threading.Thread(
                target=lambda: Progress(path).record_answer("b", "B", True), daemon=True))
            others[0].start()
            others[0].join(0.3)  # it must wait for this save to end
        real(target, content)

    monkeypatch.setattr(progress_module, "write_atomically", slow)
    Progress(path).record_answer("a", "A", True)
    others[0].join(10)
    saved = answers_in_file(path)
    assert {question: entry["attempts"] for question, entry in saved.items()} == {"a": 1, "b": 1}


def test_an_unreadable_file_that_cannot_be_moved_aside_is_left_alone(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    path.write_text("{not json")

    def busy(*args):
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(os, "rename", busy)
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    assert path.read_text() == "{not json" and "could not be moved aside" in progress.problem
    assert progress.answer("p1")["correct"]
    monkeypatch.undo()
    progress.record_answer("p2", "A", True)
    assert set(answers_in_file(path)) == {"p1", "p2"}
    assert len(list(tmp_path.glob("progress.json.unreadable-*"))) == 1


def test_a_problem_goes_once_the_file_can_be_read_again_even_with_nothing_to_save(tmp_path):
    path = tmp_path / "progress.json"
    path.mkdir()
    progress = Progress(path)
    assert progress.answer("p1") is None and "is a folder" in progress.problem
    path.rmdir()
    assert progress.answer("p1") is None and progress.problem == ""


def test_a_file_with_entries_left_out_is_rewritten_on_a_mere_read(tmp_path):
    """Else every new kernel would keep another copy of it, and say so again."""
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({**progress_module.empty(), "practice": {"p1": [1]}}))
    assert Progress(path).answer("p1") is None
    assert json.loads(path.read_text())["practice"] == {}
    assert len(list(tmp_path.glob("progress.json.unexpected-*"))) == 1
