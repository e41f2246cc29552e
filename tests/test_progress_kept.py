"""Issue 17, second review: what one card, the panel or a graded exercise could not save is saved
by whichever saves next; the run log survives a full disk, a pipe, a link and a device at its
place; entries of a wrong shape never make the course raise; an old file's runs move once."""

import errno
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import quizzes
from thread_helpers import in_thread
from quizzes import progress as progress_module
from quizzes.progress import ENV, Progress
from quizzes.widgets import ProgressCard, QuestionCard


def answers_in_file(path) -> set:
    return set(json.loads(path.read_text())["practice"])


class FullDisk:
    """Every write of a new file of the progress (its temporary files) fails with ENOSPC while
    on, as on a full disk (the writes go to /dev/full)."""

    def __init__(self, monkeypatch) -> None:
        self.monkeypatch, self.real = monkeypatch, tempfile.mkstemp

    def __enter__(self):
        def full(dir=None, prefix=None, suffix=None):
            descriptor, name = self.real(dir=dir, prefix=prefix, suffix=suffix)
            full_device = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full_device, descriptor)
            os.close(full_device)
            return descriptor, name

        self.monkeypatch.setattr(tempfile, "mkstemp", full)
        return self

    def __exit__(self, *exc) -> None:
        self.monkeypatch.setattr(tempfile, "mkstemp", self.real)


# ---------------------------------------------------------------------------------------------
# 1. What is not saved is shared by every Progress of the file


def test_an_answer_a_card_could_not_save_is_saved_by_the_next_card(tmp_path, monkeypatch):
    """Three cards, each with its own Progress (as in a notebook); the disk is full while p2 is
    checked; once space is back, checking p3 saves p2 too."""
    path = tmp_path / "progress.json"
    monkeypatch.setenv(ENV, str(path))
    cards = {q: QuestionCard(quizzes.get_question(q)) for q in ("p1", "p2", "p3")}
    assert len({id(card.progress) for card in cards.values()}) == 3
    cards["p1"].select("A")
    cards["p1"].check()
    with FullDisk(monkeypatch):
        cards["p2"].select("B")
        cards["p2"].check()
        assert "No space left on device" in cards["p2"].progress.problem
        # every Progress of the file says so while p2 is not saved, not only p2's
        assert all("could not be saved" in card.progress.problem for card in cards.values())
        assert "could not be saved" in Progress(path).problem  # a card made now, too
    assert answers_in_file(path) == {"p1"}
    cards["p3"].select("C")
    cards["p3"].check()
    assert answers_in_file(path) == {"p1", "p2", "p3"}
    assert all(card.progress.problem == "" for card in cards.values())


def test_a_graded_attempt_made_on_a_full_disk_is_saved_with_the_next_answer(tmp_path, monkeypatch):
    """check_my_fix makes a Progress of its own per call and drops it: its attempt must still be
    saved by whatever saves next (the grader itself is replaced by a fixed report)."""
    from rnn_lesson.grading import Report
    from rnn_lesson.lessons import write_the_fix

    path = tmp_path / "progress.json"
    monkeypatch.setenv(ENV, str(path))
    monkeypatch.setattr(write_the_fix, "grade", lambda submission, limits: Report(
        passed=True, verdict="passed", train_acc=0.9, val_acc=0.87, fresh_acc=0.86))
    monkeypatch.setattr(write_the_fix, "notebook_history", lambda: [])
    Progress().record_answer("p1", "A", True)
    with FullDisk(monkeypatch):
        graded = write_the_fix.check_my_fix(MyRNN, write_the_fix.Settings(lr=1e-3))
        assert graded.attempt == 1
    Progress().record_answer("p2", "B", False)  # space is back: another cell saves
    saved = json.loads(path.read_text())
    assert saved["verdicts"][write_the_fix.PROGRESS_KEY]["best"]["val_acc"] == 0.87
    assert set(saved["practice"]) == {"p1", "p2"}


class MyRNN:  # check_my_fix reads its source; the grader is replaced in the test above
    hidden = 32


def test_two_threads_and_two_objects_of_one_file_lose_nothing(tmp_path):
    """The panel saves its runs from a thread while cells save answers."""
    path = tmp_path / "progress.json"

    def runs():
        progress = Progress(path)
        for i in range(30):
            progress.add_run({"x": i})

    def answers():
        progress = Progress(path)
        for i in range(30):
            progress.record_answer(f"q{i}", "A", True)

    threads = [threading.Thread(target=runs), threading.Thread(target=answers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    rows, unreadable, total = Progress(path).runs()
    assert len(answers_in_file(path)) == 30 and unreadable == 0 and total == 30
    assert sorted(r["run"] for r in rows) == list(range(1, 31))


def test_what_could_not_be_saved_is_saved_when_the_interpreter_exits(tmp_path):
    path = tmp_path / "progress.json"
    script = f"""
import os, shutil, tempfile
from quizzes.progress import Progress
real = tempfile.mkstemp
def full(dir=None, prefix=None, suffix=None):
    descriptor, name = real(dir=dir, prefix=prefix, suffix=suffix)
    os.dup2(os.open("/dev/full", os.O_WRONLY), descriptor)
    return descriptor, name
tempfile.mkstemp = full
progress = Progress({str(path)!r})
progress.record_answer("p1", "A", True)
assert "could not be saved" in progress.problem
gone = Progress({str(tmp_path / "gone" / "progress.json")!r})
gone.record_answer("p1", "A", True)
shutil.rmtree(gone.path.parent)  # removed meanwhile (as a test's folder): not made again at exit
tempfile.mkstemp = real  # space is back, and nothing else is saved before the exit
"""
    (tmp_path / "gone").mkdir()
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert answers_in_file(path) == {"p1"}
    assert not (tmp_path / "gone").exists()


# ---------------------------------------------------------------------------------------------
# 2, 3, 8. The run log: a pipe, a full disk, a link or a device at its place


def test_a_named_pipe_at_the_logs_place_never_blocks(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    os.mkfifo(progress.runs_path)
    in_thread(lambda: progress.add_run({"x": 1}))
    progress.record_answer("p1", "A", True)
    assert answers_in_file(path) == {"p1"}  # the rest of the progress is saved
    assert str(progress.runs_path) in progress.problem and "special file" in progress.problem
    assert stat.S_ISFIFO(os.lstat(progress.runs_path).st_mode)  # left alone
    progress.runs_path.unlink()  # the learner removes it: the run is saved with the next change
    progress.record_answer("p2", "A", True)
    assert [r["x"] for r in Progress(path).runs()[0]] == [1] and progress.problem == ""


def test_a_row_is_never_lost_nor_merged_when_the_disk_fills_during_an_append(tmp_path,
                                                                               monkeypatch):
    """A full disk writes part of a row and then fails: the part is cut off again, so the row
    saved after space is back is whole (before: s1 was lost and one line was unreadable)."""
    progress = Progress(tmp_path / "progress.json")
    progress.add_run({"settings": "s0", "pad": "y" * 3000})
    real_write = os.write
    log = str(progress.runs_path)

    def filling(descriptor, data):  # half of what is asked fits, then the disk is full
        if os.readlink(f"/proc/self/fd/{descriptor}") != log:
            return real_write(descriptor, data)
        if len(data) > 1:
            return real_write(descriptor, bytes(data[:len(data) // 2]))
        raise OSError(28, "No space left on device")

    if not os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc")
    monkeypatch.setattr(os, "write", filling)
    for i in range(1, 6):
        progress.add_run({"settings": f"s{i}", "pad": "y" * 3000})
    assert "No space left on device" in progress.problem and str(progress.runs_path) in \
        progress.problem
    assert progress.runs_path.read_bytes().count(b"\n") == 1  # the half rows were cut off
    monkeypatch.setattr(os, "write", real_write)
    progress.add_run({"settings": "s6"})
    rows, unreadable, total = Progress(progress.path).runs()
    assert [(r["settings"], r["run"]) for r in rows] == [(f"s{i}", i + 1) for i in range(7)]
    assert unreadable == 0 and total == 7 and progress.problem == ""


def test_a_log_cut_in_the_middle_of_a_line_gets_a_newline_before_the_next_row(tmp_path):
    progress = Progress(tmp_path / "progress.json")
    progress.add_run({"x": 1})
    with open(progress.runs_path, "ab") as log:
        log.write(b'{"x": 2, "run": 2, "id": "cut')  # a crash in the middle of a row
    progress.add_run({"x": 3})
    rows, unreadable, _ = Progress(progress.path).runs()
    assert [r["x"] for r in rows] == [1, 3] and unreadable == 1


def test_a_linked_log_does_not_stop_answers_from_being_saved(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    path = tmp_path / "progress.json"
    progress = Progress(path)
    progress.runs_path.symlink_to(precious)
    progress.add_run({"x": 1})
    Progress(path).record_answer("p1", "A", True)  # another card
    assert answers_in_file(path) == {"p1"} and precious.read_text() == "keep me"
    problem = Progress(path).problem  # every Progress of the file says so
    assert str(progress.runs_path) in problem and "symbolic link" in problem
    assert f"set {ENV}" not in problem  # the progress file is fine: the log is the problem
    assert [r["x"] for r in progress.runs()[0]] == [1]  # shown, from memory
    progress.runs_path.unlink()
    progress.record_answer("p2", "A", True)
    assert [(r["x"], r["run"]) for r in Progress(path).runs()[0]] == [(1, 1)]
    assert progress.add_run({"x": 2}) == 2


def test_clearing_the_log_leaves_a_link_or_a_special_file_alone(tmp_path):
    progress = Progress(tmp_path / "progress.json")
    os.mkfifo(progress.runs_path)
    progress.clear_runs()
    assert stat.S_ISFIFO(os.lstat(progress.runs_path).st_mode)
    assert "could not clear the log" in progress.problem and "special file" in progress.problem
    assert not list(tmp_path.glob("*runs-cleared*"))


# ---------------------------------------------------------------------------------------------
# 4. Entries of a wrong shape


def write_record(path, **parts) -> None:
    record = {"version": 2, "practice": {}, "tests": {}, "verdicts": {}, "predictions": {}}
    path.write_text(json.dumps({**record, **parts}))


@pytest.mark.parametrize("verdict", [
    {"attempts": [{"n": "1"}], "best": None},
    {"attempts": [], "best": {"passed": True, "rank": "high", "n": 1}},
    {"attempts": [{"n": 1}], "best": {"passed": True, "n": 1, "val_acc": 0.9, "train_acc": "x"}},
    {"attempts": [{"n": 1}], "best": {"passed": True}},  # a best attempt without its number
], ids=["n-text", "rank-text", "accuracy-text", "best-without-n"])
def test_a_wrong_shaped_verdict_never_makes_a_graded_exercise_raise(tmp_path, verdict):
    path = tmp_path / "progress.json"
    write_record(path, verdicts={"task": verdict})
    progress = Progress(path)
    entry = progress.record_attempt("task", {"passed": True, "rank": 0.9, "val_acc": 0.87,
                                             "train_acc": 0.9})
    assert entry["best"]["val_acc"] == 0.87
    progress.record_answer("p1", "A", True)  # and nothing stays stuck
    assert progress.answer("p1")["correct"] and Progress(path).verdict("task")["best"]["n"] >= 1
    assert "unexpected shape" in progress.problem and list(tmp_path.glob("*.unexpected-*"))
    ProgressCard(Progress(path)).summary  # the progress cell reads it


@pytest.mark.parametrize("score", [
    {"correct": 1, "total": 10, "by_difficulty": {"easy": "abc"}},
    {"correct": 1, "total": 10, "by_difficulty": {"easy": [1]}},
    {"correct": 11, "total": 10, "by_difficulty": {}},
    {"correct": 1, "total": 10, "by_difficulty": {"easy": [1, 3]}, "at": 5},
], ids=["tally-text", "tally-short", "over-total", "at-number"])
def test_a_wrong_shaped_score_never_breaks_the_progress_cell(tmp_path, score):
    path = tmp_path / "progress.json"
    post = {"seed": 2, "answers": {}, "score": {"correct": 5, "total": 10,
                                                 "by_difficulty": {"easy": [2, 3]}}}
    write_record(path, tests={"pre": {"seed": 1, "answers": {}, "score": score}, "post": post})
    card = ProgressCard(Progress(path))
    assert "Post-test: 5/10" in card.summary and "unexpected shape" in card.progress.problem


@pytest.mark.parametrize("entry", [
    {"answer": 5}, {"answer": "A", "attempts": "x", "correct": True, "solved": True},
    {"hints": "3"}, {"hints": -1}, {"answer": "A", "attempts": 1, "correct": True, "solved": True,
                                    "at": {"x": 1}}], ids=str)
def test_a_wrong_shaped_practice_answer_is_left_out(tmp_path, entry):
    path = tmp_path / "progress.json"
    write_record(path, practice={"p1": entry}, predictions={"x": {"choices": {"a": 1}}})
    card = QuestionCard(quizzes.get_question("p1"), Progress(path))
    card.select("A")
    assert card.check() is not None and Progress(path).answer("p1")["answer"] == "A"
    assert "x" not in Progress(path).load()["predictions"]


def test_run_log_rows_with_unhashable_ids_are_counted_as_unreadable(tmp_path):
    path = tmp_path / "progress.json"
    write_record(path, runs=[{"id": {"a": 1}, "run": 1, "x": "legacy"}])
    progress = Progress(path)
    progress.runs_path.write_text(json.dumps({"id": [1], "run": 2}) + "\n"
                                  + json.dumps({"id": "ok", "run": "3"}) + "\n")
    rows, unreadable, total = progress.runs()
    assert [r["x"] for r in rows] == ["legacy"] and unreadable == 2
    progress.add_run({"x": "new"})
    assert [r["x"] for r in Progress(path).runs()[0]] == ["legacy", "new"]


def test_a_change_that_fails_on_what_was_read_is_saved_in_a_new_file_not_stuck(tmp_path,
                                                                               monkeypatch):
    """If a shape the checks let through still makes a change fail, the file is kept aside and
    the change saved in a new one; no later call raises."""
    path = tmp_path / "progress.json"
    write_record(path, practice={"p1": {"answer": "A", "attempts": [1], "correct": True,
                                        "solved": True}}, last_run=7)
    monkeypatch.setitem(progress_module._ENTRY_CHECKS, "practice", lambda entry: True)
    progress = Progress(path)
    progress.record_answer("p1", "B", False)  # int([1]) fails on the entry as read
    progress.record_answer("p2", "C", True)
    assert Progress(path).answer("p1")["answer"] == "B" and answers_in_file(path) == {"p1", "p2"}
    assert "unexpected shape" in progress.problem
    kept = list(tmp_path.glob("progress.json.unexpected-*"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["practice"]["p1"]["attempts"] == [1]
    assert progress.add_run({"x": 1}) == 8  # run numbers are never reused


def test_a_callers_mistake_raises_at_its_call_and_leaves_nothing_behind(tmp_path):
    progress = Progress(tmp_path / "progress.json")
    with pytest.raises(TypeError):
        progress.record_attempt("task", {"passed": True, "value": object()})  # not JSON
    with pytest.raises(KeyError):
        progress.update(lambda record: record["practice"]["p1"]["answer"])  # fails on any record
    progress.record_answer("p1", "A", True)
    assert progress.answer("p1")["correct"] and progress.problem == ""


# ---------------------------------------------------------------------------------------------
# 7. Runs an older version kept inside the file


def test_runs_kept_inside_an_old_file_move_to_the_log_on_the_first_read(tmp_path):
    path = tmp_path / "progress.json"
    rows = [{"run": i + 1, "settings": f"s{i}", "record": {"pad": "y" * 500}} for i in range(2000)]
    write_record(path, runs=rows)
    assert Progress(path).answer("p1") is None  # a read: the rows move now, once
    saved = json.loads(path.read_text())
    assert "runs" not in saved and saved["runs_logged"] == 2000 and saved["last_run"] == 2000
    assert path.stat().st_size < 1000  # every later read is fast
    shown, unreadable, total = Progress(path).runs()
    assert (shown[0]["run"], shown[-1]["run"], unreadable, total) == (1801, 2000, 0, 2000)
    assert Progress(path).add_run({"settings": "new"}) == 2001


# ---------------------------------------------------------------------------------------------
# Third review: run numbers, copies that cannot be written, read errors, the environment, a
# relative path, reset and clear under the lock, notes, times


def log_numbers(progress) -> list:
    return [json.loads(line)["run"] for line in progress.runs_path.read_text().splitlines()]


def test_run_numbers_never_repeat_when_the_log_is_written_but_the_record_is_not(tmp_path,
                                                                                  monkeypatch):
    """A full disk lets the log's short append through but not the record: the run is saved in
    the log, and the record counts it once it can be written (before: numbers 1, 2, 2, and the
    panel, keying runs by number, showed one run's curves for another)."""
    path = tmp_path / "progress.json"
    progress = Progress(path)
    assert progress.add_run({"x": "one"}) == 1
    with FullDisk(monkeypatch):
        assert progress.add_run({"x": "two"}) == 2
        assert "No space left on device" in progress.problem
        rows, _, total = Progress(path).runs()
        assert [(r["run"], r["x"]) for r in rows] == [(1, "one"), (2, "two")] and total == 2
    assert progress.add_run({"x": "three"}) == 3 and progress.problem == ""
    rows, _, total = Progress(path).runs()
    assert [(r["run"], r["x"]) for r in rows] == [(1, "one"), (2, "two"), (3, "three")]
    assert total == 3 and log_numbers(progress) == [1, 2, 3]
    saved = json.loads(path.read_text())
    assert (saved["last_run"], saved["runs_logged"]) == (3, 3)


def test_runs_a_stopped_kernel_logged_but_never_counted_keep_their_numbers(tmp_path):
    """The log is written before the record: rows after the record's last number (a kernel that
    stopped in between) are numbered on from; a stray row's number is not."""
    path = tmp_path / "progress.json"
    write_record(path, last_run=1, runs_logged=1)
    progress = Progress(path)
    progress.runs_path.write_text("".join(json.dumps({"id": f"r{n}", "run": n, "x": n}) + "\n"
                                          for n in (1, 2, 3, 99)))
    assert progress.add_run({"x": "new"}) == 4
    assert log_numbers(progress) == [1, 2, 3, 99, 4]


def test_a_copy_that_cannot_be_written_leaves_the_file_as_it_is(tmp_path, monkeypatch):
    """Entries of a wrong shape are left out only once the whole file is kept aside: if the copy
    cannot be written (a full disk), the file is not replaced and the work stays in memory."""
    path = tmp_path / "progress.json"
    write_record(path, practice={"p1": {"answer": "A", "attempts": 1, "correct": True,
                                        "solved": True},
                                 "notes": {"answer": "B", "attempts": 1, "correct": True,
                                           "solved": True, "at": ["my own notes"]}})
    original = path.read_bytes()
    real = progress_module.write_atomically

    def copies_fail(target, content):
        if ".unexpected-" in str(target):
            raise OSError(28, "No space left on device")
        real(target, content)

    monkeypatch.setattr(progress_module, "write_atomically", copies_fail)
    progress = Progress(path)
    progress.record_answer("p2", "C", True)
    assert path.read_bytes() == original  # the entry left out is still in the file
    assert "could not be kept aside" in progress.problem and "kept in memory" in progress.problem
    assert "was kept as" not in progress.problem
    assert progress.answer("p1") and progress.answer("p2")  # shown, from memory
    monkeypatch.setattr(progress_module, "write_atomically", real)
    progress.record_answer("p3", "D", True)
    kept = list(tmp_path.glob("progress.json.unexpected-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == original
    assert answers_in_file(path) == {"p1", "p2", "p3"} and "was kept as" in progress.problem


def test_a_change_failing_on_the_file_never_replaces_it_when_its_copy_cannot_be_written(
        tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    write_record(path, practice={"p1": {"answer": "A", "attempts": [1], "correct": True,
                                        "solved": True}})
    original = path.read_bytes()
    monkeypatch.setitem(progress_module._ENTRY_CHECKS, "practice", lambda entry: True)
    with FullDisk(monkeypatch):  # the copy cannot be written
        progress = Progress(path)
        progress.record_answer("p1", "B", False)
        assert path.read_bytes() == original and not list(tmp_path.glob("*.unexpected-*"))
        assert "could not be kept aside" in progress.problem
        assert progress.answer("p1")["answer"] == "B"
    progress.record_answer("p2", "C", True)
    kept = list(tmp_path.glob("progress.json.unexpected-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == original
    assert answers_in_file(path) == {"p1", "p2"}


def test_one_copy_per_content_however_many_saves_fail_after_it(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    write_record(path, practice={"p1": [1, 2]})
    real = progress_module.write_atomically

    def only_copies(target, content):
        if Path(target) == path:
            raise OSError(28, "No space left on device")
        real(target, content)

    monkeypatch.setattr(progress_module, "write_atomically", only_copies)
    progress = Progress(path)
    for question in ("p2", "p3", "p4"):
        progress.record_answer(question, "A", True)
        Progress(path).load()
    assert len(list(tmp_path.glob("progress.json.unexpected-*"))) == 1
    monkeypatch.setattr(progress_module, "write_atomically", real)
    progress.record_answer("p5", "A", True)
    assert answers_in_file(path) == {"p2", "p3", "p4", "p5"}
    assert len(list(tmp_path.glob("progress.json.unexpected-*"))) == 1


@pytest.mark.parametrize("code", ["EMFILE", "EACCES", "EIO"])
def test_a_file_that_cannot_be_opened_now_is_left_alone_and_the_work_kept(tmp_path, monkeypatch,
                                                                          code):
    """Too many open files, no permission: nothing is wrong with the file itself. It is neither
    set aside nor replaced; the work is shown from memory and saved once it can be read."""
    path = tmp_path / "progress.json"
    Progress(path).record_answer("p1", "A", True)
    original = path.read_bytes()
    real_open = os.open

    def failing(name, flags, *args, **kwargs):
        if os.fspath(name) == str(path):
            raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing)
    card = Progress(path)
    assert card.answer("p1")["correct"] and "could not be read now" in card.problem
    card.record_answer("p2", "B", True)
    assert card.answer("p2") and path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == [".progress.json.lock", "progress.json"]
    monkeypatch.setattr(os, "open", real_open)
    assert Progress(path).answer("p1")["correct"] and answers_in_file(path) == {"p1", "p2"}
    assert card.problem == ""


def test_following_the_advice_to_set_the_environment_loses_nothing(tmp_path, monkeypatch):
    """What a card could not save moves to the file the environment names next, with the first
    Progress made from it, and is saved there once (not also at exit into the old place)."""
    Progress()  # the environment's file so far (this test's)
    elsewhere = tmp_path / "elsewhere.json"
    link = tmp_path / "link.json"
    link.symlink_to(elsewhere)
    monkeypatch.setenv(ENV, str(link))
    card = Progress()
    card.record_answer("p1", "A", True)
    card.add_run({"x": 1})
    assert f"set {ENV}" in card.problem
    good = tmp_path / "good.json"
    monkeypatch.setenv(ENV, str(good))  # the advice followed
    new_card = Progress()
    assert answers_in_file(good) == {"p1"} and [r["x"] for r in new_card.runs()[0]] == [1]
    assert str(link) in new_card.problem and "moved" in new_card.problem
    assert not card._shared.unsaved() and not elsewhere.exists() and card.problem == ""
    new_card.record_answer("p2", "B", True)
    assert answers_in_file(good) == {"p1", "p2"}
    explicit = Progress(tmp_path / "another.json")  # a path given explicitly takes nothing
    with FullDisk(monkeypatch):
        Progress().record_answer("p3", "C", True)
    Progress(tmp_path / "third.json")
    assert Progress().answer("p3") and not (tmp_path / "third.json").exists()
    assert explicit.load()["practice"] == {}


def test_a_relative_path_stays_the_same_file_after_a_change_of_folder(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.setenv(ENV, "progress.json")
    progress = Progress()
    assert progress.path == tmp_path / "a" / "progress.json"
    progress.record_answer("p1", "A", True)
    monkeypatch.chdir(tmp_path / "b")  # a notebook cell changes folder
    progress.record_answer("p2", "B", True)
    assert answers_in_file(tmp_path / "a" / "progress.json") == {"p1", "p2"}
    assert not (tmp_path / "b" / "progress.json").exists()
    assert Progress("progress.json")._shared is not progress._shared  # b's file: another one


def test_reset_waits_for_a_save_of_another_kernel_and_never_undoes_it(tmp_path):
    """The other kernel's save holds the file lock (a thread holding it here, on a descriptor
    of its own, is the same to flock): reset waits, then sets aside what it wrote."""
    fcntl = pytest.importorskip("fcntl")
    path = tmp_path / "progress.json"
    Progress(path).record_answer("old", "A", True)
    lock = os.open(tmp_path / ".progress.json.lock", os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    done = []
    thread = threading.Thread(target=lambda: done.append(Progress(path).reset()), daemon=True)
    thread.start()
    thread.join(0.5)
    assert not done, "reset did not wait for the file lock"
    record = json.loads(path.read_text())
    record["practice"]["other"] = record["practice"]["old"]  # the other kernel's save
    progress_module.write_atomically(path, json.dumps(record))
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.close(lock)
    thread.join(10)
    assert set(json.loads(done[0].read_text())["practice"]) == {"old", "other"}
    assert Progress(path).load()["practice"] == {}


def test_a_reset_that_cannot_rename_the_file_keeps_everything(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    progress.record_answer("p1", "A", True)
    with FullDisk(monkeypatch):
        progress.record_answer("p2", "B", True)  # not saved yet
        monkeypatch.setattr(os, "rename", lambda *a: (_ for _ in ()).throw(OSError(16, "busy")))
        assert progress.reset() is None
        monkeypatch.undo()
    assert "could not reset" in progress.problem and progress.answer("p2")
    progress.record_answer("p3", "C", True)
    assert answers_in_file(path) == {"p1", "p2", "p3"}
    assert progress.reset() is not None and progress.problem == ""


def test_a_reset_keeps_the_run_numbers_going(tmp_path):
    progress = Progress(tmp_path / "progress.json")
    progress.add_run({"x": 1})
    progress.add_run({"x": 2})
    progress.reset()
    assert progress.add_run({"x": 3}) == 3 and progress.runs()[2] == 3


def test_clearing_the_log_renames_it_and_zeroes_its_count_under_one_hold_of_the_lock(
        tmp_path, monkeypatch):
    """Another kernel can log a run only before the clear or after it: never between the rename
    and the count set to 0 (its run would be counted, then cleared)."""
    fcntl = pytest.importorskip("fcntl")
    progress = Progress(tmp_path / "progress.json")
    progress.add_run({"x": 1})
    real_flock, events = fcntl.flock, []
    real_rename, real_write = os.rename, progress_module.write_atomically
    monkeypatch.setattr(fcntl, "flock", lambda fd, op: (events.append(op), real_flock(fd, op))[1])
    monkeypatch.setattr(os, "rename", lambda *a: (events.append("rename"), real_rename(*a))[1])
    monkeypatch.setattr(progress_module, "write_atomically",
                        lambda *a: (events.append("write"), real_write(*a))[1])
    progress.clear_runs()
    held = [e for e in events if e != fcntl.LOCK_UN]
    assert held == [fcntl.LOCK_EX, "rename", "write"], events
    assert progress.runs() == ([], 0, 0) and progress.add_run({"x": 2}) == 2


def test_a_note_goes_once_what_failed_succeeds(tmp_path):
    progress = Progress(tmp_path / "progress.json")
    progress.add_run({"x": 1})
    progress.runs_path.unlink()
    os.mkfifo(progress.runs_path)
    progress.clear_runs()
    assert "could not clear the log" in progress.problem
    progress.runs_path.unlink()
    progress.add_run({"x": 2})
    progress.clear_runs()
    assert progress.problem == "" and progress.runs() == ([], 0, 0)


def test_the_time_saved_is_when_the_learner_acted_not_when_it_was_saved(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    monkeypatch.setattr(progress_module, "now", lambda: "acted")
    with FullDisk(monkeypatch):
        progress.record_answer("p1", "A", True)
        progress.start_test("pre", 1)
        progress.record_test_score("pre", 1, 2, {"easy": (1, 2)})
        progress.record_prediction("guess", {"q": "a"})
        entry = progress.record_attempt("task", {"passed": True, "rank": 0.5, "notes": ["x"]})
        returned = json.dumps(entry)
        monkeypatch.setattr(progress_module, "now", lambda: "saved later")
        progress.load()
        assert json.dumps(entry) == returned  # the dict returned is never changed after
    progress.load()  # saved now
    saved = json.loads(path.read_text())
    assert {saved["practice"]["p1"]["at"], saved["tests"]["pre"]["started"],
            saved["tests"]["pre"]["score"]["at"], saved["predictions"]["guess"]["at"],
            saved["verdicts"]["task"]["best"]["at"]} == {"acted"}
    assert json.dumps(entry) == returned


def test_an_attempt_is_saved_as_it_was_given(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    attempt = {"passed": False, "rank": 0.1, "problems": ["too slow"]}
    with FullDisk(monkeypatch):
        Progress(path).record_attempt("task", attempt)
        attempt["problems"].append("changed by the caller afterwards")
    Progress(path).load()
    assert json.loads(path.read_text())["verdicts"]["task"]["best"]["problems"] == ["too slow"]


def test_two_spellings_of_one_folder_share_what_is_not_saved(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    with FullDisk(monkeypatch):
        Progress(tmp_path / "alias" / "progress.json").record_answer("p1", "A", True)
        assert Progress(real / "progress.json").answer("p1")["correct"]
    Progress(real / "progress.json").record_answer("p2", "B", True)
    assert answers_in_file(real / "progress.json") == {"p1", "p2"}
