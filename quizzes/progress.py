"""The learner's progress, kept in one local JSON file so that nothing is lost with the kernel.

    path: $RNN_LESSON_PROGRESS, or ~/.rnn_lesson/progress.json

What it holds: the last answer to every practice question (tries, hints), the pre-test and the
post-test (each its seed, answers and score by difficulty), the graded exercises (every attempt
with its code, and the best one), and the predictions made before a result was shown. The panel's
log of runs lives beside it, one JSON line per run (`runs_path`): it only grows at its end, and the
panel reads only its last RUN_LOG_LIMIT lines, so a long log opens as fast as a short one.

How it is kept:
- Every change is a function applied to the latest record under an exclusive lock, then the file
  is replaced atomically, so two notebooks open at once never lose each other's answers and a
  crash never leaves half a file.
- Nothing the learner did is lost while the kernel lives, whatever the file system does: a change
  that cannot be saved (a full disk, a folder that cannot be written, a folder or a special file
  where the file should be) is kept in memory and saved with the next change that can be. What is
  not saved yet is shared by every Progress of the same file in the process (each card, the
  panel and each graded exercise make their own), so whichever saves next saves it all, each
  shows the problem until then, and one more try is made when the interpreter exits. A log of
  runs that cannot be written keeps its rows in memory without stopping the rest from saving.
- It never writes through a symbolic link or into a special file (a pipe, a device): the file,
  its lock and its temporary files are opened with O_NOFOLLOW and checked to be regular files;
  temporary files get fresh random names.
- A file that cannot be read (not JSON, not text, nested too deep, not the expected shape) is
  moved aside under a new name with a message, and a fresh one is started; entries of an
  unexpected shape inside a good file (every field the course reads is checked: its type and
  range) are left out, with a copy of the file kept aside. Should a change still fail on what was
  read, the file is kept aside and the change is saved in a new one: a change never gets stuck.
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

ENV = "RNN_LESSON_PROGRESS"
VERSION = 2
SECTIONS = {"practice": dict, "tests": dict, "verdicts": dict, "predictions": dict}
RUN_LOG_LIMIT = 200  # rows of the panel's log it shows (the newest)
ATTEMPTS_KEPT = 50  # attempts of a graded exercise kept (the best one is always kept)
TEST_PHASES = ("pre", "post")
SAVE_FAILED = "progress could not be saved to"

Change = Callable[[dict], None]


def default_path() -> Path:
    return Path(os.environ.get(ENV) or Path.home() / ".rnn_lesson" / "progress.json")


def now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def empty() -> dict[str, Any]:
    return {"version": VERSION, **{name: kind() for name, kind in SECTIONS.items()}}


class _Shared:
    """What every Progress of one file shares in this process: the changes and runs not saved yet,
    the file as last read or written (as text), and why the changes are not saved. A card, the
    panel and a graded exercise each make their own Progress; what one could not save is saved by
    whichever saves next, and each of them shows the problem until it is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()  # the panel saves its runs from a thread of its own
        self.pending: list[Change] = []  # changes not saved yet, in order
        self.pending_rows: list[dict] = []  # runs of the panel's log not saved yet
        # The file as last read or written, as text: a fresh record is parsed from it only when
        # the file cannot be used (a deep copy of a long record would cost more than reading it).
        self.saved = json.dumps(empty())
        self.problem = ""  # why something is not saved ("" when all is saved)
        self.copied: set[int] = set()  # hashes of file contents already kept aside
        self.moved_runs = False  # rows kept inside the record were moved to the log (or tried)

    def unsaved(self) -> bool:
        return bool(self.pending or self.pending_rows)


_SHARED: dict[str, _Shared] = {}
_SHARED_LOCK = threading.Lock()


def _shared(path: Path) -> _Shared:
    """The shared state of the file at `path` (its folder resolved, the file itself not: a link
    at the file's place stays a link, refused)."""
    absolute = os.path.abspath(path)
    key = os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))
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
        self.path = Path(path) if path is not None else default_path()
        self._shared = _shared(self.path)
        self._note = ""  # what this object did (a file kept aside), for the learner
        self._sanitized = False  # the last read left out entries of an unexpected shape
        self._version: tuple | None = None  # which version of the file the last read read

    @property
    def problem(self) -> str:
        """What is not saved and why (shared by every Progress of this file), then what this
        object last reported (a file it set aside); "" when all is well."""
        shared = self._shared.problem
        if shared and self._note and self._note != shared:
            return f"{shared} {self._note}"
        return shared or self._note

    @problem.setter
    def problem(self, value: str) -> None:
        self._note = value

    # Shared with every Progress of the file (kept as attributes for older callers).
    @property
    def _pending(self) -> list[Change]:
        return self._shared.pending

    @property
    def _pending_rows(self) -> list[dict]:
        return self._shared.pending_rows

    # ------------------------------------------------------------------ reading and writing

    def load(self) -> dict[str, Any]:
        """The progress so far: the file, with every change not saved yet applied."""
        with self._shared.lock:
            if self._shared.unsaved():
                return self._save()
            record = self._read()
            if record is None:
                return self._with_pending()
            legacy = "runs" in record and not self._shared.moved_runs
            if self._sanitized or legacy:
                # Save the cleaned record (the bad entries are reported once), and move the runs an
                # older version kept inside the record to the log, once: they are read every time
                # the record is, and a long list made every answer slow.
                self._shared.moved_runs = True
                return self._save(read=(self._version, record, self._sanitized))
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

    def _save(self, read: tuple | None = None) -> dict[str, Any]:
        """Apply the pending changes and runs to the latest record and write it. `read`: (the
        version, the record, whether it was sanitized) just read without the lock; used if the
        file is still that version (a long record is not parsed twice)."""
        shared = self._shared
        with shared.lock:
            unusable = _unusable(self.path)
            if unusable:  # never a lock file beside a link, a folder or a special file
                shared.problem = f"{_UNUSABLE} {self.path}: {unusable}"
                return self._with_pending()
            snapshot = list(shared.pending)
            try:
                with self._locked():
                    if read is not None and read[0] is not None and _current(self.path) == read[0]:
                        record, self._sanitized = read[1], read[2]
                    else:
                        record = self._read()
                    if record is None:  # the file became unusable: keep everything in memory
                        return self._with_pending()
                    record, applied = self._applied(record, snapshot, set_aside=True)
                    log_problem = self._append_rows(record)
                    if applied or self._sanitized or not log_problem:
                        text = json.dumps(record, indent=1)
                        write_atomically(self.path, text)
                        shared.saved = text
            except OSError as error:
                # A full disk, a folder that cannot be written: say so, keep the changes, and try
                # again with the next one.
                fix = (error.fix if isinstance(error, _LockProblem) else
                       f"({error}): set {ENV} to a writable file.")
                shared.problem = (f"{SAVE_FAILED} {self.path} {fix} Your work is kept in memory "
                                  "and saved as soon as the file can be written.")
                return self._with_pending()
            del shared.pending[:len(snapshot)]  # saved (or dropped: they cannot be saved)
            shared.problem = log_problem
            return record

    def _applied(self, record: dict, changes: list[Change],
                 set_aside: bool) -> tuple[dict, list[Change]]:
        """`record` with `changes` applied, and the changes that were. If they fail on it (an entry
        of a shape the checks let through), the file is kept aside and they are applied to a new
        record instead: a change is never lost, nor stuck failing every later save. A change that
        fails on a new record too cannot be saved anywhere: it is dropped, and said so."""
        try:
            for change in changes:
                change(record)
            return record, changes
        except _SHAPE_ERRORS as error:
            why = f"{type(error).__name__}: {str(error)[:80]}"
        fresh, kept = empty(), []
        for key in ("last_run", "runs_logged"):  # run numbers are never reused
            fresh[key] = _count(record, key)
        for change in changes:
            trial = copy.deepcopy(fresh)
            try:
                change(trial)
            except _SHAPE_ERRORS as error:
                self._note = f"a change could not be saved and was dropped ({error!r})."
                continue
            fresh = trial
            kept.append(change)
        if set_aside:
            copy_path = self._keep_copy(self._shared.saved)
            self._note = (f"your progress file had an unexpected shape ({why}); it was kept as "
                          f"{copy_path} and a new one was started with your latest changes.")
        return fresh, kept

    def _with_pending(self) -> dict[str, Any]:
        record, applied = self._applied(json.loads(self._shared.saved), list(self._shared.pending),
                                        set_aside=False)
        if len(applied) != len(self._shared.pending):
            self._shared.pending[:] = applied  # the dropped ones fail everywhere
        return record

    def _read(self) -> dict[str, Any] | None:
        """The file's record (a fresh one if there is none, or if it was set aside); None if the
        path cannot be used now (the reason is in `problem`)."""
        shared = self._shared
        self._sanitized = False
        unusable = _unusable(self.path)
        if unusable:
            shared.problem = f"{_UNUSABLE} {self.path}: {unusable}"
            return None
        if shared.problem and not shared.unsaved():
            shared.problem = ""  # usable again, and nothing is waiting to be saved
        try:
            text, self._version = _read_regular(self.path)
        except FileNotFoundError:
            shared.saved = json.dumps(empty())
            return empty()
        except (OSError, UnicodeDecodeError) as error:
            return self._set_aside(f"it could not be read ({error})")
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as error:  # not JSON, or nested too deep to read
            return self._set_aside(f"it is not valid JSON ({str(error)[:80]})")
        if isinstance(record, dict):
            _migrate(record)
        shape = _shape_problem(record)
        if shape:
            return self._set_aside(shape)
        left_out = _sanitize(record)
        if left_out:
            self._sanitized = True
            if hash(text) not in shared.copied:
                kept = self._keep_copy(text)
                self._note = (f"part of your progress file had an unexpected shape ({left_out}) "
                              f"and was left out; the whole file was kept as {kept}.")
        shared.saved = text if not left_out else json.dumps(record)
        return record

    def _set_aside(self, why: str) -> dict[str, Any] | None:
        kept = self._aside_name("unreadable")
        try:
            os.rename(self.path, kept)
        except OSError:
            self._shared.problem = (f"{_UNUSABLE} {self.path}: it is unreadable ({why}) and could "
                                    "not be moved aside.")
            return None
        self._note = (f"your progress file was unreadable: {why}. It was kept as {kept} and a "
                      "new one was started.")
        self._shared.saved = json.dumps(empty())
        return empty()

    def _keep_copy(self, text: str) -> Path:
        """Keep `text` (the file as read) beside the file, once per content."""
        self._shared.copied.add(hash(text))
        kept = self._aside_name("unexpected")
        with contextlib.suppress(OSError):
            write_atomically(kept, text)
        return kept

    def _aside_name(self, why: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{why}-{_dt.datetime.now():%Y%m%d-%H%M%S-%f}")

    @property
    def runs_path(self) -> Path:
        """The panel's log of runs: one JSON object per line, the newest last."""
        return self.path.with_name(f"{self.path.name}.runs.jsonl")

    def _append_rows(self, record: dict) -> str:
        """Number the runs not saved yet after the record's last one and append them to the log
        (with the rows an older version kept inside the record). Called under the lock. Returns
        why the log could not be written ("" if it was): then the record is left as it was (its
        own rows stay in it), the runs stay in memory, and the rest of the progress is still
        saved. If the record cannot be written after this, the same rows come again with the
        same numbers and ids, and reading keeps one of each."""
        pending = self._shared.pending_rows
        rows = _legacy_rows(record.get("runs"))
        numbers = [r["run"] for r in rows if _is_int(r.get("run"))]
        last = max([_count(record, "last_run"), *numbers])
        for row in pending:
            last += 1
            rows.append({**row, "run": last})
        if rows:
            try:
                _append_lines(self.runs_path, "".join(json.dumps(row) + "\n" for row in rows))
            except OSError as error:
                return (f"the panel's log of runs could not be saved to {self.runs_path} "
                        f"({_log_problem(self.runs_path, error)}). Your runs are kept in memory "
                        "and saved as soon as it can be written; the rest of your progress is "
                        "saved.")
            record["runs_logged"] = _count(record, "runs_logged") + len(rows)
        record.pop("runs", None)
        record["last_run"] = last
        pending.clear()
        return ""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on a file beside the progress file (POSIX; elsewhere no lock).

        The lock file is opened without following links and without truncating, and must be a
        regular file, so a link or a pipe planted at its name is refused, never written to. It is
        made only beside a progress path that can be used (never beside a device)."""
        unusable = _unusable(self.path)
        if unusable:
            raise OSError(errno.EINVAL, f"{self.path}: {unusable}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: single notebook use is still safe (atomic replace)
            yield
            return
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        if _not_regular(lock_path):
            raise _LockProblem(lock_path)
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _NONBLOCK
                             | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise _LockProblem(lock_path)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    # ------------------------------------------------------------------ practice questions

    def record_answer(self, question_id: str, letter: str, correct: bool) -> None:
        def change(record: dict) -> None:
            entry = record["practice"].get(question_id) or {"attempts": 0}
            record["practice"][question_id] = {
                **entry, "answer": letter, "correct": bool(correct),
                "attempts": int(entry.get("attempts", 0)) + 1,
                "solved": bool(entry.get("solved")) or bool(correct), "at": now()}
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

        def change(record: dict) -> None:
            record["tests"][phase] = {"seed": int(seed), "answers": {}, "started": now()}
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

        def change(record: dict) -> None:
            attempt = record["tests"].get(phase)
            if attempt is not None:
                attempt["score"] = {"correct": int(score), "total": int(total), "at": now(),
                                    "by_difficulty": copy.deepcopy(tally)}
        self.update(change)

    # ------------------------------------------------------------------ graded exercises

    def record_attempt(self, task: str, attempt: dict[str, Any]) -> dict[str, Any]:
        """Add an attempt ({passed, score numbers, code, settings...}) to a graded exercise;
        returns the exercise's entry: {"attempts": [...], "best": the best attempt so far}.

        The best attempt is never replaced by a worse one: a pass beats a fail, then the higher
        `rank` (the exercise's own measure of how good an attempt is)."""
        entry: dict[str, Any] = {}

        def change(record: dict) -> None:
            current = record["verdicts"].setdefault(task, {"attempts": [], "best": None})
            number = 1 + max((_count(a, "n") for a in current["attempts"]), default=0)
            new = {**attempt, "n": number, "at": now()}
            current["attempts"] = (current["attempts"] + [new])[-ATTEMPTS_KEPT:]
            best = current.get("best")
            if best is None or _better(new, best):
                current["best"] = new
            entry.clear()
            entry.update(copy.deepcopy(current))
        self.update(change)
        return entry

    def verdict(self, task: str) -> dict[str, Any] | None:
        return self.load()["verdicts"].get(task)

    # ------------------------------------------------------------------ predictions

    def record_prediction(self, name: str, choices: dict[str, str]) -> None:
        """What the learner predicted before a result was shown, one choice per question (the
        first prediction stays)."""
        def change(record: dict) -> None:
            record["predictions"].setdefault(name, {"choices": dict(choices), "at": now()})
        self.update(change)

    def prediction(self, name: str) -> dict[str, Any] | None:
        return self.load()["predictions"].get(name)

    # ------------------------------------------------------------------ the panel's run log

    def add_run(self, row: dict[str, Any]) -> int:
        """Append a run to the panel's log, numbered after the log's last one (two kernels
        sharing the file never collide, and a number is never reused); returns its number."""
        row = {**row, "id": secrets.token_hex(8)}
        json.dumps(row)  # a row that is not JSON is the caller's mistake: raised here
        with self._shared.lock:
            pending = self._shared.pending_rows
            pending.append(row)
            record = self._save()
            waiting = [i for i, other in enumerate(pending) if other is row]
            if not waiting:  # saved: its number is the record's last
                return record["last_run"]
            return _count(record, "last_run") + 1 + waiting[0]  # not saved yet

    def runs(self, limit: int = RUN_LOG_LIMIT) -> tuple[list[dict], int, int]:
        """The newest `limit` rows of the log, oldest first (read from the end of the log file,
        so its length does not matter); how many lines could not be read; how many rows the
        log holds in all."""
        with self._shared.lock:
            record = self.load()
            pending_rows = list(self._shared.pending_rows)
        legacy = _legacy_rows(record.get("runs"))  # an older version kept them inside the record
        rows, bad, seen = [], 0, set()
        for line in _tail_lines(self.runs_path, limit):
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                bad += 1
                continue
            if not _row_ok(row):
                bad += 1
            elif row.get("id") is None or row["id"] not in seen:
                seen.add(row.get("id"))
                rows.append(row)
        last = _count(record, "last_run")
        pending = [{**row, "run": last + i} for i, row in enumerate(pending_rows, start=1)
                   if row["id"] not in seen]
        rows = [r for r in legacy if r["id"] not in seen] + rows + pending
        total = _count(record, "runs_logged") + len(legacy) + len(pending)
        return rows[-limit:], bad, total

    def clear_runs(self) -> None:
        """Empty the log; its rows are kept in a file beside it (a clear can be undone). A link
        or a special file at the log's place is left alone (never renamed), with a message."""
        with self._shared.lock:
            self._shared.pending_rows.clear()
            kind = _not_regular(self.runs_path)
            if kind and kind != "a folder":  # a link or a special file: never renamed
                self._note = (f"could not clear the log: {self.runs_path} is {kind}, not the "
                              "course's log; the course leaves it alone: remove it yourself.")
                return
            try:
                with self._locked():
                    if os.path.lexists(self.runs_path):
                        os.rename(self.runs_path, self._aside_name("runs-cleared"))
            except OSError as error:
                self._note = f"could not clear the log: {error}"
                return

            def change(record: dict) -> None:
                record.pop("runs", None)
                record["runs_logged"] = 0
            self.update(change)

    # ------------------------------------------------------------------ starting over

    def reset(self) -> Path | None:
        """Start over; the old file is kept beside it (returned) so a reset can be undone."""
        with self._shared.lock:
            self._shared.pending.clear()
            self._shared.saved = json.dumps(empty())
            self._shared.problem = ""
            self._note = ""
            if _unusable(self.path) or not self.path.is_file():
                return None
            kept = self._aside_name("reset")
            try:
                os.rename(self.path, kept)
            except OSError as error:
                self._note = f"could not reset: {self.path} could not be renamed ({error})"
                return None
            return kept


_UNUSABLE = "progress is kept in memory only, because of"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX: a pipe never blocks an open


class _LockProblem(OSError):
    """The lock file's place holds something else (a link, a folder, a special file)."""

    def __init__(self, lock_path: Path) -> None:
        kind = _not_regular(lock_path) or "not a regular file"
        super().__init__(errno.EINVAL, f"{lock_path} is {kind}")
        self.fix = (f"(its lock file {lock_path} is {kind}, which the course never writes "
                    "through nor into): remove it.")


def _not_regular(path: Path) -> str:
    """What is at `path` if it is not a regular file ("a symbolic link", "a folder", "a special
    file (a pipe or a device)"); "" if it is one or there is nothing."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return ""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "" if stat.S_ISREG(mode) else "a special file (a pipe or a device)"


def _unusable(path: Path) -> str:
    """Why `path` cannot be the progress file now ("" if it can, or does not exist yet)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # not made yet (saving says what stops it)
        return ""
    except OSError as error:
        return f"it cannot be looked at ({error.strerror or error})"
    kind = _not_regular(path)
    if kind == "a symbolic link":
        return ("it is a symbolic link, and the course never writes through one: set "
                f"{ENV} to the file itself")
    if kind == "a folder":
        return f"it is a folder, not a progress file: remove it or set {ENV} to a file path"
    if kind:
        return (f"it is a special file (a pipe or a device), not a progress file: set {ENV} to a "
                "file")
    return ""


def _log_problem(path: Path, error: OSError) -> str:
    """Why the log at `path` could not be written, and what to do."""
    kind = _not_regular(path)
    if kind == "a symbolic link":
        return ("it is a symbolic link, and the course never writes through one: remove the link "
                "(what it points to is left alone)")
    if kind:
        return f"it is {kind}, not a log: remove it or move it away"
    return f"{error.strerror or error}: free some space, or make its folder writable"


def _append_lines(path: Path, text: str) -> None:
    """Append `text` (whole lines) to the regular file at `path`, or raise OSError and leave it
    as it was. Never through a link, never into a special file, never blocking on a pipe (opened
    non-blocking, a pipe without a reader fails at once). A failed write (a full disk) is cut
    back to the file's size before it, so a half line never joins the next row; a file that does
    not end with a newline (a crash in an older version) gets one first."""
    kind = _not_regular(path)
    if kind:
        raise OSError(errno.EINVAL, f"{path} is {kind}")
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _NONBLOCK
                         | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):  # swapped in since it was looked at
            raise OSError(errno.EINVAL, f"{path} is not a regular file")
        if _NONBLOCK:
            os.set_blocking(descriptor, True)
        size = info.st_size
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


def _read_regular(path: Path) -> tuple[str, tuple]:
    """The text of a regular file, opened without following a link and without blocking on a
    pipe that took its place since it was looked at; and the version read (`_version`)."""
    descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        return file.read().decode("utf-8"), _version(info)


def _current(path: Path) -> tuple | None:
    try:
        return _version(os.lstat(path))
    except OSError:
        return None


def _version(info: os.stat_result) -> tuple:
    """Which version of the file this is: every save replaces the file (a new inode)."""
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


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
    """The last `limit` lines of a file, read from its end (its size does not matter). A
    missing, linked or special file reads as empty."""
    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except OSError:
        return []
    with os.fdopen(descriptor, "rb") as file:
        size = os.fstat(file.fileno())
        if not stat.S_ISREG(size.st_mode):
            return []
        chunks, newlines, position = [], 0, size.st_size
        while position > 0 and newlines <= limit:
            step = min(1 << 20, position)
            position -= step
            file.seek(position)
            chunks.insert(0, file.read(step))
            newlines += chunks[0].count(b"\n")
    lines = [line for line in b"".join(chunks).splitlines() if line.strip()]
    return lines[-limit:] if position == 0 else lines[1:][-limit:]  # the first may be cut


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
