"""The learner's progress, kept in one local JSON file so that nothing is lost with the kernel.

    path: $RNN_LESSON_PROGRESS, or ~/.rnn_lesson/progress.json (made absolute when a Progress is
    made: a later os.chdir changes nothing)

What it holds: the last answer to every practice question (tries, hints), the pre-test and the
post-test (each its seed, answers and score by difficulty), the graded exercises (every attempt
with its code, and the best one), and the predictions made before a result was shown. The panel's
log of runs lives beside it, one JSON line per run (`runs_path`): it only grows at its end, and the
panel reads only its last RUN_LOG_LIMIT lines, so a long log opens as fast as a short one.

How it is kept:
- Every change is a function applied to the latest record under an exclusive file lock, then the
  file is replaced atomically, so two notebooks open at once never lose each other's answers and a
  crash never leaves half a file. A reset or a clear of the log holds the same lock. What a change
  records (the time of an answer) is fixed when the learner acts: a change not saved yet is
  applied again on every read.
- Nothing the learner did is lost while the kernel lives, whatever the file system does: a change
  that cannot be saved (a full disk, a folder that cannot be written, too many open files, a
  folder or a special file where the file should be) is kept in memory and saved with the next
  change that can be. What is not saved yet is shared by every Progress of the same file in the
  process (each card, the panel and each graded exercise make their own), so whichever saves next
  saves it all, each shows the problem until then, and one more try is made at exit.
- Following the advice to set RNN_LESSON_PROGRESS to another file loses nothing. A Progress keeps
  the file it was made with; the first Progress made from the environment once it names another
  file takes over what could not be saved to the one it named before (moved, not copied: saved
  once, in the new file, and said so). A path given explicitly is a file of its own: it neither
  gives nor takes.
- A run reaches the log first, then the record counts it (`last_run`, `runs_logged`). If the
  record cannot be written then, the count waits in memory like any change. A run is numbered
  after the record's last number and after the rows the log holds beyond it (a crash between the
  two writes), so a number is never given twice. A log that cannot be written keeps its runs in
  memory without stopping the rest.
- It never writes through a symbolic link or into a special file (a pipe, a device): the file,
  its log and its lock are looked at, then opened with O_NOFOLLOW and O_NONBLOCK and looked at
  again once open (`_open_regular`), so a link or a pipe put there in between is refused too;
  temporary files and copies get fresh random names.
- A file whose content cannot be used (not text, not JSON, nested too deep, not the expected
  shape) is moved aside with a message and a fresh one is started; a file that cannot be opened
  or read now (no permission, too many open files) is left alone and the work stays in memory.
  Entries of an unexpected shape (every field the course reads is checked: its type and range)
  are left out, and a change that still fails on what was read starts a new record; either way
  the file is replaced only once a copy of it is kept aside, else it stays as it is and the work
  stays in memory.
- Rows an older version kept inside the file move to the log on the first read that can write.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import datetime as _dt
import errno
import json
import os
import secrets
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no lock; single notebook use is still safe (atomic replace)
    fcntl = None

ENV = "RNN_LESSON_PROGRESS"
VERSION = 2
SECTIONS = {"practice": dict, "tests": dict, "verdicts": dict, "predictions": dict}
RUN_LOG_LIMIT = 200  # rows of the panel's log it shows (the newest)
ATTEMPTS_KEPT = 50  # attempts of a graded exercise kept (the best one is always kept)
TEST_PHASES = ("pre", "post")
SAVE_FAILED = "progress could not be saved to"
KEPT = "Your work is kept in memory and saved as soon as the file can be written."

Change = Callable[[dict], None]


def default_path() -> Path:
    return Path(os.environ.get(ENV) or Path.home() / ".rnn_lesson" / "progress.json")


def now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def empty() -> dict[str, Any]:
    return {"version": VERSION, **{name: kind() for name, kind in SECTIONS.items()}}


class _Shared:
    """What every Progress of one file shares in this process: the changes and runs not saved yet,
    the file as last read or written (as text: what is shown while the file cannot be used), and
    why the changes are not saved. A card, the panel and a graded exercise each make their own
    Progress; what one could not save is saved by whichever saves next."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()  # the panel saves its runs from a thread of its own
        self.locked = False  # the lock holder also holds the file lock (clear_runs, reset)
        self.pending: list[Change] = []  # changes not saved yet, in order
        self.pending_rows: list[dict] = []  # runs not in the log yet
        self.saved = json.dumps(empty())
        self.problem = ""  # why something is not saved ("" when all is saved)
        self.copies: dict[int, Path] = {}  # the copy kept aside of each file content

    def unsaved(self) -> bool:
        return bool(self.pending or self.pending_rows)


_SHARED: dict[str, _Shared] = {}
_SHARED_LOCK = threading.Lock()
_from_environment: _Shared | None = None  # the file the last Progress made from $ENV uses


def _shared(path: Path) -> _Shared:
    """The shared state of the file at the absolute `path` (its folder resolved, so two spellings
    of one folder share it; the file itself not: a link at the file's place stays a link)."""
    key = os.path.join(os.path.realpath(path.parent), path.name)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = _Shared(Path(key))
        return _SHARED[key]


@atexit.register
def _save_before_exit() -> None:
    """At the interpreter's exit, one more try to save what could not be saved so far (into a
    folder that still exists: one removed meanwhile, a test's, is not made again)."""
    for shared in list(_SHARED.values()):
        if not (shared.unsaved() and shared.path.parent.is_dir()):
            continue
        if shared.lock.acquire(timeout=5):  # a thread may hold it
            try:
                Progress(shared.path)._save()
            except Exception:  # noqa: BLE001 - exiting: nothing is left to tell
                pass
            finally:
                shared.lock.release()


# What applying a change to a record of an unexpected shape raises.
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError)


class Progress:
    """Read and change the progress file. `problem` holds what went wrong (a message for the
    learner), or "" when all is well. Every Progress of the same file in this process shares the
    changes not saved yet: any of them saves them all, and each shows the problem until then."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(os.path.abspath(default_path() if path is None else path))
        self._shared = _shared(self.path)
        self._notes: dict[str, str] = {}  # what this object reported, by what it was doing
        if path is None:
            self._take_over_from_environment()

    @property
    def problem(self) -> str:
        """What is not saved and why (shared by every Progress of this file), then what this
        object reported: a file it kept aside (until it keeps another), a clear or a reset that
        failed (until one succeeds); "" when all is well."""
        parts = (self._shared.problem, *self._notes.values())
        return " ".join(dict.fromkeys(part for part in parts if part))

    @property
    def _pending_rows(self) -> list[dict]:  # the runs not logged yet (a test fills it directly)
        return self._shared.pending_rows

    def _take_over_from_environment(self) -> None:
        """If the environment named another file when the last Progress was made from it, and
        what was done there is not saved, move it here and save it (see the module's docstring)."""
        global _from_environment
        with _SHARED_LOCK:
            previous, _from_environment = _from_environment, self._shared
        if previous is None or previous is self._shared:
            return
        with previous.lock:
            changes, rows = list(previous.pending), list(previous.pending_rows)
            previous.pending.clear()
            previous.pending_rows.clear()
            previous.problem = ""
        if not (changes or rows):
            return
        with self._shared.lock:
            self._shared.pending[:0] = changes  # older than anything waiting here
            self._shared.pending_rows[:0] = rows
            self._save()
            where = ("and saved there" if not self._shared.unsaved() else
                     "kept in memory, and saved as soon as it can be written")
        self._notes["file"] = (f"What could not be saved to {previous.path} was moved to "
                               f"{self.path}, {where}.")

    # ------------------------------------------------------------------ reading and writing

    def load(self) -> dict[str, Any]:
        """The progress so far: the file, with every change not saved yet applied."""
        with self._shared.lock:
            if self._shared.unsaved():
                return self._save()
            record, _, cleaned = self._read()
            if record is None:
                return self._with_pending()
            if cleaned or "runs" in record:
                # Save the cleaned record (the bad entries are reported once), and move the runs an
                # older version kept inside the record to the log: they are read every time the
                # record is, and a long list made every answer slow.
                return self._save()
            return record

    def update(self, change: Change) -> dict[str, Any]:
        """Apply `change` to the latest record and save (with any change not saved before);
        returns the new record, saved or not. A change that fails on a new record, or whose result
        is not JSON, is the caller's mistake: it raises here, and nothing is kept."""
        trial = empty()
        change(trial)
        json.dumps(trial)
        with self._shared.lock:
            self._shared.pending.append(change)
            return self._save()

    def _save(self) -> dict[str, Any]:
        """Apply the changes not saved yet to the latest record, log the runs not logged yet, and
        write the record; returns it (what is kept in memory if it could not be written)."""
        shared = self._shared
        with shared.lock:
            done = list(shared.pending)
            try:
                with self._locked():
                    record, text, cleaned = self._read()
                    if record is None:  # the file cannot be used now: keep everything in memory
                        return self._with_pending()
                    record = self._apply(record, done, text)
                    counted, log_problem = self._log_rows(record)
                    if counted is not None:  # the rows are in the log: now count them
                        shared.pending.append(counted)
                        done.append(counted)
                    if done or cleaned:
                        written = json.dumps(record, indent=1)
                        write_atomically(self.path, written)
                        shared.saved = written
            except OSError as error:
                # A full disk, a folder that cannot be written: say so, keep the changes, and try
                # again with the next one.
                shared.problem = getattr(error, "message", "") or (
                    f"{SAVE_FAILED} {self.path} ({error.strerror or error}): set {ENV} to a "
                    f"writable file. {KEPT}")
                return self._with_pending()
            del shared.pending[:len(done)]
            shared.problem = log_problem
            return record

    def _apply(self, record: dict, changes: list[Change], text: str | None) -> dict:
        """`record` with `changes` applied. If they fail on it (an entry of a shape the checks let
        through), the file is kept aside and they are applied to a new record instead: a change is
        never lost, nor stuck failing every later save; but the file is replaced only once its
        copy is written (else _Refused: the work stays in memory)."""
        try:
            return _applied(record, changes)
        except _SHAPE_ERRORS as error:
            if text is None:  # it failed on a new record: a mistake of this module, not the file's
                raise
            why = f"{type(error).__name__}: {str(error)[:80]}"
        try:
            kept = self._keep_copy(text)
        except OSError as error:
            raise _Refused(f"{SAVE_FAILED} {self.path}: a change failed on what it holds ({why}) "
                           f"and a copy of it could not be kept aside ({error.strerror or error}), "
                           f"so it is left as it is. {KEPT}") from error
        self._notes["file"] = (f"your progress file had an unexpected shape ({why}); it was kept "
                               f"as {kept} and a new one was started with your latest changes.")
        return _fresh(record, changes)

    def _with_pending(self) -> dict[str, Any]:
        """What is shown while the file cannot be used: the file as last read or written, with
        the changes not saved yet."""
        record = json.loads(self._shared.saved)
        try:
            return _applied(record, list(self._shared.pending))
        except _SHAPE_ERRORS:
            return _fresh(record, list(self._shared.pending))

    def _read(self) -> tuple[dict[str, Any] | None, str | None, bool]:
        """(The file's record: a fresh one if there is none or it was set aside; its text, None if
        there was none; whether entries were left out.) The record is None if the file cannot be
        used now (why is in `problem`): the work stays in memory and the file is left alone."""
        shared = self._shared
        try:
            descriptor = _open_regular(self.path, os.O_RDONLY)
            with os.fdopen(descriptor, "rb") as file:
                data = file.read()
        except (FileNotFoundError, NotADirectoryError):  # not made yet
            data = None
        except _NotRegular as error:
            shared.problem = _unusable(error)
            return None, None, False
        except OSError as error:  # no permission, too many open files: it may pass, keep the file
            shared.problem = (f"{_UNUSABLE} {self.path} could not be read now "
                              f"({error.strerror or error}); it is left as it is.")
            return None, None, False
        if shared.problem and not shared.unsaved():
            shared.problem = ""  # usable again, and nothing is waiting to be saved
        if data is None:
            shared.saved = json.dumps(empty())
            return empty(), None, False
        try:
            text = data.decode("utf-8")
            record = json.loads(text)
        except (ValueError, RecursionError) as error:  # not text, not JSON, nested too deep
            return self._set_aside(f"it is not valid JSON text ({str(error)[:80]})")
        if isinstance(record, dict):
            _migrate(record)
        shape = _shape_problem(record)
        if shape:
            return self._set_aside(shape)
        left_out = _sanitize(record)
        shared.saved = json.dumps(record) if left_out else text
        if left_out:
            try:
                new = hash(text) not in shared.copies
                kept = self._keep_copy(text)
            except OSError as error:
                shared.problem = (
                    f"Part of your progress file {self.path} has an unexpected shape ({left_out}): "
                    f"it is left as it is, because a copy of it could not be kept aside "
                    f"({error.strerror or error}). {KEPT}")
                return None, text, True
            if new:
                self._notes["file"] = (f"part of your progress file had an unexpected shape "
                                       f"({left_out}) and was left out; the whole file was kept "
                                       f"as {kept}.")
        return record, text, bool(left_out)

    def _set_aside(self, why: str) -> tuple[dict[str, Any] | None, None, bool]:
        kept = self._aside_name("unreadable")
        try:
            os.rename(self.path, kept)
        except OSError:
            self._shared.problem = (f"{_UNUSABLE} {self.path}: it is unreadable ({why}) and could "
                                    "not be moved aside.")
            return None, None, False
        self._notes["file"] = (f"your progress file was unreadable: {why}. It was kept as {kept} "
                               "and a new one was started.")
        self._shared.saved = json.dumps(empty())
        return empty(), None, False

    def _keep_copy(self, text: str) -> Path:
        """Keep `text` (the file as read) beside the file, once per content; raises OSError if it
        cannot be written."""
        copies = self._shared.copies
        if hash(text) not in copies:
            kept = self._aside_name("unexpected")
            write_atomically(kept, text)
            copies[hash(text)] = kept
        return copies[hash(text)]

    def _aside_name(self, why: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{why}-{_dt.datetime.now():%Y%m%d-%H%M%S-%f}")

    @property
    def runs_path(self) -> Path:
        """The panel's log of runs: one JSON object per line, the newest last."""
        return self.path.with_name(f"{self.path.name}.runs.jsonl")

    def _next_run(self, record: dict) -> int:
        """The number of the next run: after the record's last one, and after the rows the log
        holds beyond it. Those were logged by a kernel that stopped before it could write the
        record (the log is written first); they follow the record's last number without a gap,
        which a stray row (a bad line's number) does not."""
        last = _count(record, "last_run")
        for number in _logged_numbers(self.runs_path):
            if number == last + 1:
                last = number
        return last + 1

    def _log_rows(self, record: dict) -> tuple[Change | None, str]:
        """Number the runs not logged yet and append them to the log (with the rows an older
        version kept inside the record). Called under the lock. Returns the change that counts
        them in the record (applied to `record` already; None if nothing was logged) and why the
        log could not be written ("" if it was: then the runs stay in memory, and the rest of the
        progress is still saved)."""
        shared = self._shared
        legacy = _legacy_rows(record.get("runs"))
        waiting = list(shared.pending_rows)
        if not waiting and "runs" not in record:
            return None, ""
        old = [r["run"] for r in legacy if _is_int(r.get("run"))]
        first = max([self._next_run(record), *(n + 1 for n in old)])
        numbered = [{**row, "run": n} for n, row in enumerate(waiting, start=first)]
        if legacy or numbered:
            try:
                _append_lines(self.runs_path,
                              "".join(json.dumps(r) + "\n" for r in legacy + numbered))
            except OSError as error:
                why = (_refusal(self.runs_path, error.kind, "log")
                       if isinstance(error, _NotRegular) else
                       f"{self.runs_path}: {error.strerror or error}: free some space, or make its "
                       "folder writable")
                return None, (f"the panel's log of runs could not be saved ({why}). Your runs are "
                              "kept in memory and saved as soon as it can be written; the rest of "
                              "your progress is saved.")
        for row, logged in zip(waiting, numbered):
            row["run"] = logged["run"]  # add_run reads its number here
        del shared.pending_rows[:len(waiting)]
        last, count = first - 1 + len(waiting), len(legacy) + len(waiting)

        def counted(record: dict) -> None:
            record.pop("runs", None)
            record["last_run"] = max(_count(record, "last_run"), last)
            record["runs_logged"] = _count(record, "runs_logged") + count
        counted(record)
        return counted, ""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on a file beside the progress file (POSIX; elsewhere no lock), held
        until the block ends; taken once by a thread that holds it already. It is made only beside
        a progress path that can be used (never beside a device), and opened as `_open_regular`
        opens, so a link or a pipe at its name is refused, never written to."""
        shared = self._shared
        if shared.locked:
            yield
            return
        kind = _kind(self.path)
        if kind:
            raise _Refused(_unusable(_NotRegular(self.path, kind)))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        try:
            descriptor = _open_regular(lock_path, os.O_RDWR | os.O_CREAT) if fcntl else None
        except _NotRegular as error:
            raise _Refused(f"{SAVE_FAILED} {self.path}: its lock file "
                           f"{_refusal(lock_path, error.kind, 'lock')}. {KEPT}") from error
        try:
            if descriptor is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            shared.locked = True
            yield
        finally:
            shared.locked = False
            if descriptor is not None:
                os.close(descriptor)  # and the lock with it

    # ------------------------------------------------------------------ practice questions

    def record_answer(self, question_id: str, letter: str, correct: bool) -> None:
        at = now()

        def change(record: dict) -> None:
            entry = record["practice"].get(question_id) or {"attempts": 0}
            record["practice"][question_id] = {
                **entry, "answer": letter, "correct": bool(correct),
                "attempts": int(entry.get("attempts", 0)) + 1,
                "solved": bool(entry.get("solved")) or bool(correct), "at": at}
        self.update(change)

    def record_hint(self, question_id: str) -> None:
        """The learner asked for a question's hint (counted, for the teacher's view)."""
        def change(record: dict) -> None:
            entry = record["practice"].setdefault(question_id, {})
            entry["hints"] = int(entry.get("hints", 0)) + 1
        self.update(change)

    def answer(self, question_id: str) -> dict[str, Any] | None:
        """The last answer to a practice question ({answer, correct, attempts, solved, at})."""
        entry = self.load()["practice"].get(question_id)
        return entry if entry and "answer" in entry else None

    # ------------------------------------------------------------------ the pre- and post-test

    def test(self, phase: str) -> dict[str, Any] | None:
        """A test attempt ({seed, answers, score?, started}), or None if it was never started."""
        _check_phase(phase)
        return self.load()["tests"].get(phase)

    def start_test(self, phase: str, seed: int) -> None:
        """Begin `phase` with the draw of `seed` (a new start replaces the old attempt)."""
        _check_phase(phase)
        at = now()

        def change(record: dict) -> None:
            record["tests"][phase] = {"seed": int(seed), "answers": {}, "started": at}
        self.update(change)

    def record_test_answer(self, phase: str, item_id: str, letter: str | None) -> None:
        _check_phase(phase)

        def change(record: dict) -> None:
            attempt = record["tests"].get(phase)
            if attempt is None:
                return
            if letter is None:
                attempt["answers"].pop(item_id, None)
            else:
                attempt["answers"][item_id] = letter
        self.update(change)

    def record_test_score(self, phase: str, score: int, total: int,
                          by_difficulty: dict[str, tuple[int, int]]) -> None:
        _check_phase(phase)
        tally = {d: [int(c), int(t)] for d, (c, t) in by_difficulty.items()}
        at = now()

        def change(record: dict) -> None:
            attempt = record["tests"].get(phase)
            if attempt is not None:
                attempt["score"] = {"correct": int(score), "total": int(total), "at": at,
                                    "by_difficulty": copy.deepcopy(tally)}
        self.update(change)

    # ------------------------------------------------------------------ graded exercises

    def record_attempt(self, task: str, attempt: dict[str, Any]) -> dict[str, Any]:
        """Add an attempt ({passed, score numbers, code, settings...}) to a graded exercise;
        returns the exercise's entry: {"attempts": [...], "best": the best attempt so far}.

        The best attempt is never replaced by a worse one: a pass beats a fail, then the higher
        `rank` (the exercise's own measure of how good an attempt is)."""
        attempt = copy.deepcopy(attempt)  # as it is now: the caller may change its own later
        at = now()

        def change(record: dict) -> None:
            current = record["verdicts"].setdefault(task, {"attempts": [], "best": None})
            number = 1 + max((_count(a, "n") for a in current["attempts"]), default=0)
            new = {**copy.deepcopy(attempt), "n": number, "at": at}
            current["attempts"] = (current["attempts"] + [new])[-ATTEMPTS_KEPT:]
            best = current.get("best")
            if best is None or _better(new, best):
                current["best"] = new
        return self.update(change)["verdicts"][task]

    def verdict(self, task: str) -> dict[str, Any] | None:
        return self.load()["verdicts"].get(task)

    # ------------------------------------------------------------------ predictions

    def record_prediction(self, name: str, choices: dict[str, str]) -> None:
        """What the learner predicted before a result was shown, one choice per question (the
        first prediction stays)."""
        choices, at = dict(choices), now()

        def change(record: dict) -> None:
            record["predictions"].setdefault(name, {"choices": dict(choices), "at": at})
        self.update(change)

    def prediction(self, name: str) -> dict[str, Any] | None:
        return self.load()["predictions"].get(name)

    # ------------------------------------------------------------------ the panel's run log

    def add_run(self, row: dict[str, Any]) -> int:
        """Append a run to the panel's log, numbered after the log's last one (two kernels
        sharing the file never collide, and a number is never reused); returns its number (if it
        could not be logged yet: the number it gets if nothing else is logged first)."""
        row = {**row, "id": secrets.token_hex(8)}
        json.dumps(row)  # a row that is not JSON is the caller's mistake: raised here
        with self._shared.lock:
            waiting = self._shared.pending_rows
            waiting.append(row)
            record = self._save()
            for place, other in enumerate(waiting):
                if other is row:  # not logged yet
                    return self._next_run(record) + place
            return row["run"]

    def runs(self, limit: int = RUN_LOG_LIMIT) -> tuple[list[dict], int, int]:
        """The newest `limit` rows of the log, oldest first (read from the end of the log file,
        so its length does not matter), then the runs not logged yet; how many lines could not be
        read; how many rows the log holds in all. A row logged twice (an old file's rows moved
        again after a crash before the record was written) is shown once."""
        with self._shared.lock:
            record = self.load()
            waiting = list(self._shared.pending_rows)
        logged, bad = [], 0
        for line in _tail_lines(self.runs_path, limit):
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                row = None
            if _row_ok(row):
                logged.append(row)
            else:
                bad += 1
        legacy = _legacy_rows(record.get("runs"))  # not moved to the log yet (it cannot be written)
        rows, seen = [], set()
        for row in legacy + logged:
            if row.get("id"):
                if row["id"] in seen:
                    continue
                seen.add(row["id"])
            rows.append(row)
        first = self._next_run(record)
        rows += [{**row, "run": n} for n, row in enumerate(waiting, start=first)]
        return rows[-limit:], bad, _count(record, "runs_logged") + len(legacy) + len(waiting)

    def clear_runs(self) -> None:
        """Empty the log; its rows are kept in a file beside it (a clear can be undone). A link
        or a special file at the log's place is left alone (never renamed), with a message. The
        log is renamed and the record's count set to 0 under one hold of the file lock, so a run
        another kernel logs is never counted and then cleared."""
        shared = self._shared
        with shared.lock:
            kind = _kind(self.runs_path)
            if kind and kind != _FOLDER:
                self._notes["clear"] = (f"could not clear the log: "
                                        f"{_refusal(self.runs_path, kind, 'log')}.")
                return
            try:
                with self._locked():
                    if os.path.lexists(self.runs_path):
                        os.rename(self.runs_path, self._aside_name("runs-cleared"))
                    shared.pending_rows.clear()
                    shared.pending.append(_cleared)
                    self._save()  # if it cannot be written, the 0 is kept like any change
            except OSError as error:
                self._notes["clear"] = (f"could not clear the log: "
                                        f"{getattr(error, 'message', '') or error}")
                return
            self._notes.pop("clear", None)

    # ------------------------------------------------------------------ starting over

    def reset(self) -> Path | None:
        """Start over; the old file is kept beside it (returned) so a reset can be undone. Done
        under the file lock (a save of another kernel comes before it or after it, never across
        it); the run numbers and the log's count go on (the log is not reset). If the file cannot
        be renamed, nothing changes: the changes not saved yet are kept, with a message."""
        shared = self._shared
        with shared.lock:
            kept = None
            try:
                with self._locked():
                    record, _, _ = self._read()
                    if record is None:
                        raise _Refused(shared.problem)
                    if os.path.lexists(self.path):
                        kept = self._aside_name("reset")
                        os.rename(self.path, kept)
            except OSError as error:
                self._notes["reset"] = ("could not reset, nothing was changed: "
                                        f"{getattr(error, 'message', '') or error}")
                return None
            counters = {key: _count(record, key) for key in ("last_run", "runs_logged")}
            shared.pending[:] = [lambda record: record.update(counters)]
            shared.saved = json.dumps(empty())
            shared.problem = ""
            self._notes.clear()
            self._save()
            return kept


_UNUSABLE = "progress is kept in memory only, because"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX: a pipe never blocks an open
_OPEN_FLAGS = _NOFOLLOW | _NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_LINK, _FOLDER, _SPECIAL = "a symbolic link", "a folder", "a special file (a pipe or a device)"
_TAIL_STEP = 1 << 16  # bytes read at a time from the end of the log
_RECENT = 50  # rows of the log's end looked at for numbers the record does not count yet


def _cleared(record: dict) -> None:
    record.pop("runs", None)
    record["runs_logged"] = 0


def _applied(record: dict, changes: list[Change]) -> dict:
    for change in changes:
        change(record)
    return record


def _fresh(record: dict, changes: list[Change]) -> dict:
    """A new record with `changes`, keeping the run counters of `record` (numbers never reused)."""
    fresh = empty()
    for key in ("last_run", "runs_logged"):
        fresh[key] = _count(record, key)
    return _applied(fresh, changes)


class _Refused(OSError):
    """A save refused on purpose; `message` says why to the learner."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EINVAL, message)
        self.message = message


class _NotRegular(OSError):
    """Something other than a regular file (`kind`) where the course keeps one."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"{path} is {kind}")
        self.path, self.kind = path, kind


def _kind(path: Path) -> str:
    """What is at `path` if it is not a regular file (_LINK, _FOLDER or _SPECIAL); "" if it is
    one, or if there is nothing (or it cannot be looked at: opening it says why)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return ""
    if stat.S_ISLNK(mode):
        return _LINK
    if stat.S_ISDIR(mode):
        return _FOLDER
    return "" if stat.S_ISREG(mode) else _SPECIAL


def _open_regular(path: Path, flags: int) -> int:
    """A descriptor of the regular file at `path`, opened with `flags` (0o600 if created), or
    _NotRegular. It is looked at first (a device is never opened), then opened without following
    a link and without blocking on a pipe, and looked at again once open (something put there in
    between is refused too); the descriptor is left blocking."""
    kind = _kind(path)
    if kind:
        raise _NotRegular(path, kind)
    try:
        descriptor = os.open(path, flags | _OPEN_FLAGS, 0o600)
    except OSError as error:
        kind = {errno.ELOOP: _LINK, errno.EMLINK: _LINK, errno.EISDIR: _FOLDER,
                errno.ENXIO: _SPECIAL}.get(error.errno, "")
        if kind:
            raise _NotRegular(path, kind) from error
        raise
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise _NotRegular(path, _FOLDER if stat.S_ISDIR(mode) else _SPECIAL)
    if _NONBLOCK:
        os.set_blocking(descriptor, True)
    return descriptor


def _refusal(path: Path, kind: str, role: str) -> str:
    """The one message for `kind` (not a regular file) at the place of the progress file, its log
    or its lock (`role`): what it is and what to do."""
    fix = {("progress", True): f"set {ENV} to the file itself",
           ("progress", False): f"remove it or set {ENV} to a file path",
           ("log", True): "remove the link (what it points to is left alone)",
           ("log", False): "remove it or move it away",
           ("lock", True): "remove it", ("lock", False): "remove it"}[role, kind == _LINK]
    return f"{path} is {kind}, which the course never writes through nor into: {fix}"


def _unusable(error: _NotRegular) -> str:
    return f"{_UNUSABLE} {_refusal(error.path, error.kind, 'progress')}."


def _append_lines(path: Path, text: str) -> None:
    """Append `text` (whole lines) to the regular file at `path`, or raise OSError and leave it
    as it was (opened by `_open_regular`). A failed write (a full disk) is cut back to the file's
    size before it, so a half line never joins the next row; a file that does not end with a
    newline (a crash in an older version) gets one first."""
    descriptor = _open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        size = os.fstat(descriptor).st_size
        data = text.encode("utf-8")
        if size:
            os.lseek(descriptor, size - 1, os.SEEK_SET)
            if os.read(descriptor, 1) != b"\n":
                data = b"\n" + data
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, size)
            raise
    finally:
        os.close(descriptor)


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace `path` with `content` in one step: readers see the old file or the new one, never
    half of one. The temporary file is created new (O_EXCL, a random name) beside `path`, so a
    link planted at a predictable name is never written through, and it is removed on failure
    (a full disk leaves nothing behind). `path` itself, if a link, is replaced, not followed."""
    path = Path(path)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _check_phase(phase: str) -> None:
    if phase not in TEST_PHASES:
        raise ValueError(f"a test phase is one of {TEST_PHASES}, got {phase!r}")


def _better(new: dict, best: dict) -> bool:
    def key(attempt: dict) -> tuple[bool, float | int]:
        rank = attempt.get("rank")
        return bool(attempt.get("passed")), rank if _is_number(rank) else 0.0
    return key(new) > key(best)


def _count(record: dict, key: str) -> int:
    value = record.get(key, 0)
    return value if _is_int(value) and value >= 0 else 0


def _tail_lines(path: Path, limit: int) -> list[bytes]:
    """The last `limit` lines of a file that are not blank, read from its end (its size does not
    matter). A missing, linked or special file reads as empty."""
    try:
        descriptor = _open_regular(path, os.O_RDONLY)
    except OSError:
        return []
    with os.fdopen(descriptor, "rb") as file:
        chunks, newlines, position = [], 0, os.fstat(file.fileno()).st_size
        while position > 0 and newlines <= limit:
            step = min(_TAIL_STEP, position)
            position -= step
            file.seek(position)
            chunks.insert(0, file.read(step))
            newlines += chunks[0].count(b"\n")
    lines = b"".join(chunks).split(b"\n")
    if position > 0:
        del lines[0]  # it may be the end of a line that starts before what was read
    return [line for line in lines if line.strip()][-limit:]


def _logged_numbers(path: Path) -> list[int]:
    """The run numbers of the last rows of the log that can be read, oldest first."""
    numbers = []
    for line in _tail_lines(path, _RECENT):
        with contextlib.suppress(ValueError, RecursionError):
            row = json.loads(line)
            if _row_ok(row):
                numbers.append(row["run"])
    return numbers


def _legacy_rows(rows: Any) -> list[dict]:
    """Rows an older version kept inside the record, with ids that stay the same if they are
    moved to the log twice (after a failed save)."""
    if not isinstance(rows, list):
        return []
    return [{**r, "id": r["id"] if isinstance(r.get("id"), str) and r["id"] else
             f"legacy-{r['run'] if _is_int(r.get('run')) else ''}-{i}"}
            for i, r in enumerate(rows) if isinstance(r, dict)]


def _row_ok(row: Any) -> bool:
    """A row of the log with the fields the log itself reads: an id (text) and a run number."""
    return isinstance(row, dict) and isinstance(row.get("id", ""), str) and _is_int(row.get("run"))


def _shape_problem(record: Any) -> str:
    """Why a record cannot be used at all ("" if it can)."""
    if not isinstance(record, dict):
        return f"it holds a JSON {type(record).__name__}, not an object"
    for name, kind in SECTIONS.items():
        if not isinstance(record.get(name), kind):
            return f"its '{name}' part is missing or not a {kind.__name__}"
    return ""


def _migrate(record: dict) -> None:
    """Version 1 (one fixed test, one verdict per exercise) to version 2. Nothing is dropped:
    the old test's answers stay under "test"."""
    if record.get("version") != 1:
        return
    record["version"] = VERSION
    record.setdefault("tests", {})
    record.setdefault("predictions", {})
    verdicts = record.get("verdicts")
    if isinstance(verdicts, dict):
        for task, old in list(verdicts.items()):
            if isinstance(old, dict) and "attempts" not in old:
                attempt = {**old, "n": 1, "code": ""}
                verdicts[task] = {"attempts": [attempt], "best": attempt}


def _sanitize(record: dict) -> str:
    """Drop the entries whose shape the course cannot use; returns what was dropped ("" if none)."""
    dropped = []
    for section, valid in _ENTRY_CHECKS.items():
        for key in [k for k, v in record[section].items() if not valid(v)]:
            del record[section][key]
            dropped.append(f"{section} {key!r}")
    return ", ".join(dropped[:5]) + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional(entry: dict, key: str, valid: Callable[[Any], bool]) -> bool:
    return key not in entry or valid(entry[key])


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _texts(value: Any) -> bool:
    """A dict of text to text."""
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in value.items())


# Each check reads an entry as the course reads it: every field it uses, its type and range.

def _practice_ok(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    if "hints" in entry and not (_is_int(entry["hints"]) and entry["hints"] >= 0):
        return False
    if "answer" not in entry:
        return set(entry) <= {"hints"}
    return (isinstance(entry["answer"], str) and _is_int(entry.get("attempts"))
            and entry["attempts"] >= 1 and isinstance(entry.get("correct"), bool)
            and isinstance(entry.get("solved"), bool) and _optional(entry, "at", _text))


def _tally_ok(value: Any) -> bool:
    """[correct, total] with 0 <= correct <= total."""
    return (isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value)
            and 0 <= value[0] <= value[1])


def _score_ok(score: Any) -> bool:
    return (isinstance(score, dict) and _is_int(score.get("correct"))
            and _is_int(score.get("total"))
            and 0 <= score["correct"] <= score["total"]
            and isinstance(score.get("by_difficulty"), dict)
            and all(isinstance(k, str) and _tally_ok(v) for k, v in score["by_difficulty"].items())
            and _optional(score, "at", _text))


def _test_ok(entry: Any) -> bool:
    return (isinstance(entry, dict) and _is_int(entry.get("seed")) and _texts(entry.get("answers"))
            and _optional(entry, "started", _text)
            and (entry.get("score") is None or _score_ok(entry["score"])))


def _attempt_ok(attempt: Any) -> bool:
    """An attempt at a graded exercise: its number, and whatever else it holds of the right type
    (the verdict, the rank, the accuracies both or neither, the settings, the code)."""
    if not (isinstance(attempt, dict) and _is_int(attempt.get("n")) and attempt["n"] >= 1):
        return False
    numbers = [attempt.get(k) for k in ("val_acc", "train_acc")]
    if any(_is_number(v) for v in numbers) and not all(_is_number(v) for v in numbers):
        return False
    return (_optional(attempt, "passed", lambda v: isinstance(v, bool))
            and _optional(attempt, "rank", _is_number)
            and all(_optional(attempt, k, lambda v: v is None or _is_number(v))
                    for k in ("val_acc", "train_acc", "fresh_acc"))
            and all(_optional(attempt, k, _text) for k in ("settings", "at", "code"))
            and _optional(attempt, "error", lambda v: v is None or isinstance(v, str))
            and _optional(attempt, "problems", lambda v: isinstance(v, list)
                          and all(isinstance(p, str) for p in v)))


def _verdict_ok(entry: Any) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("attempts"), list)
            and all(_attempt_ok(a) for a in entry["attempts"])
            and (entry.get("best") is None or _attempt_ok(entry["best"])))


def _prediction_ok(entry: Any) -> bool:
    return (isinstance(entry, dict) and _texts(entry.get("choices"))
            and _optional(entry, "at", _text))


_ENTRY_CHECKS = {"practice": _practice_ok, "verdicts": _verdict_ok, "predictions": _prediction_ok,
                 "tests": _test_ok}
