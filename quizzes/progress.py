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
  where the file should be) is kept in memory and saved with the next change that can be.
- It never writes through a symbolic link or into a special file (a pipe, a device): the file,
  its lock and its temporary files are opened with O_NOFOLLOW and checked to be regular files;
  temporary files get fresh random names.
- A file that cannot be read (not JSON, not text, nested too deep, not the expected shape) is
  moved aside under a new name with a message, and a fresh one is started; entries of an
  unexpected shape inside a good file are left out, with a copy of the file kept aside.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import json
import os
import secrets
import stat
import tempfile
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


class Progress:
    """Read and change the progress file. `problem` holds the last thing that went wrong
    (a message for the learner), or "" when all is well."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.problem = ""
        # The file as last read or written, as text: a fresh record is parsed from it only when the
        # file cannot be used (a deep copy of a long run log would cost more than reading it).
        self._saved = json.dumps(empty())
        self._pending: list[Change] = []  # changes not saved yet, in order
        self._pending_rows: list[dict] = []  # runs of the panel's log not saved yet
        self._sanitized = False  # the last read left out entries of an unexpected shape
        self._copied: set[int] = set()  # hashes of file contents already kept aside

    # ------------------------------------------------------------------ reading and writing

    def load(self) -> dict[str, Any]:
        """The progress so far: the file, with every change not saved yet applied."""
        if self._pending:
            return self._save()
        record = self._read()
        if record is None:
            return self._with_pending()
        if self._sanitized:  # save the cleaned record, so the bad entries are reported once
            return self.update(lambda _: None)
        return record

    def update(self, change: Change) -> dict[str, Any]:
        """Apply `change` to the latest record and save (with any change not saved before);
        returns the new record, saved or not."""
        self._pending.append(change)
        return self._save()

    def _save(self) -> dict[str, Any]:
        try:
            with self._locked():
                record = self._read()
                if record is None:  # the file is unusable now: keep everything in memory
                    return self._with_pending()
                for change in self._pending:
                    change(record)
                self._append_rows(record)
                text = json.dumps(record, indent=1)
                write_atomically(self.path, text)
        except OSError as error:
            # A full disk, a folder that cannot be written: say so, keep the changes, and try
            # again with the next one.
            self.problem = (f"{SAVE_FAILED} {self.path} ({error}): set {ENV} to a writable "
                            "file. Your work is kept in memory and saved as soon as the file can "
                            "be written.")
            return self._with_pending()
        self._pending.clear()
        self._pending_rows.clear()
        self._saved = text
        if self.problem.startswith(SAVE_FAILED) or self.problem.startswith(_UNUSABLE):
            self.problem = ""  # saved again: that problem is over
        return record

    def _with_pending(self) -> dict[str, Any]:
        record = json.loads(self._saved)
        for change in self._pending:
            change(record)
        return record

    def _read(self) -> dict[str, Any] | None:
        """The file's record (a fresh one if there is none, or if it was set aside); None if the
        path cannot be used now (the reason is in `problem`)."""
        self._sanitized = False
        unusable = _unusable(self.path)
        if unusable:
            self.problem = f"{_UNUSABLE} {self.path}: {unusable}"
            return None
        if self.problem.startswith(_UNUSABLE) and not self._pending:
            self.problem = ""  # usable again, and nothing is waiting to be saved
        try:
            text = _read_regular(self.path)
        except FileNotFoundError:
            self._saved = json.dumps(empty())
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
            if hash(text) not in self._copied:
                self._copied.add(hash(text))
                kept = self._keep_copy(text)
                self.problem = (f"part of your progress file had an unexpected shape ({left_out}) "
                                f"and was left out; the whole file was kept as {kept}.")
        self._saved = text if not left_out else json.dumps(record)
        return record

    def _set_aside(self, why: str) -> dict[str, Any] | None:
        kept = self._aside_name("unreadable")
        try:
            os.rename(self.path, kept)
        except OSError:
            self.problem = (f"{_UNUSABLE} {self.path}: it is unreadable ({why}) and could not be "
                            "moved aside.")
            return None
        self.problem = (f"your progress file was unreadable: {why}. It was kept as {kept} and a "
                        "new one was started.")
        self._saved = json.dumps(empty())
        return empty()

    def _keep_copy(self, text: str) -> Path:
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

    def _append_rows(self, record: dict) -> None:
        """Number the runs not saved yet after the record's last one and append them to the log
        (with the rows an older version kept inside the record). Called under the lock; if the
        record cannot be written after this, the same rows come again with the same numbers and
        ids, and reading keeps one of each."""
        rows = _legacy_rows(record.pop("runs", None))
        numbers = [r["run"] for r in rows if _is_int(r.get("run"))]
        record["last_run"] = max([_count(record, "last_run"), *numbers])
        for row in self._pending_rows:
            record["last_run"] = _count(record, "last_run") + 1
            rows.append({**row, "run": record["last_run"]})
        if not rows:
            return
        descriptor = os.open(self.runs_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW,
                             0o600)
        with os.fdopen(descriptor, "wb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise OSError(f"{self.runs_path} is not a regular file")
            file.write("".join(json.dumps(row) + "\n" for row in rows).encode("utf-8"))
        record["runs_logged"] = _count(record, "runs_logged") + len(rows)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on a file beside the progress file (POSIX; elsewhere no lock).

        The lock file is opened without following links and without truncating, and must be a
        regular file, so a link or a pipe planted at its name is refused, never written to."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: single notebook use is still safe (atomic replace)
            yield
            return
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | os.O_NONBLOCK
                             | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise OSError(f"{lock_path} is not a regular file")
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

        def change(record: dict) -> None:
            attempt = record["tests"].get(phase)
            if attempt is not None:
                attempt["score"] = {"correct": score, "total": total, "at": now(),
                                    "by_difficulty": {d: list(v) for d, v in by_difficulty.items()}}
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
            number = 1 + max((a.get("n", 0) for a in current["attempts"]), default=0)
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
        self._pending_rows.append({**row, "id": secrets.token_hex(8)})
        record = self._save()
        if not self._pending_rows:  # saved: its number is the record's last
            return record["last_run"]
        return _count(record, "last_run") + len(self._pending_rows)  # not saved yet

    def runs(self, limit: int = RUN_LOG_LIMIT) -> tuple[list[dict], int, int]:
        """The newest `limit` rows of the log, oldest first (read from the end of the log file,
        so its length does not matter); how many lines could not be read; how many rows the
        log holds in all."""
        record = self.load()
        legacy = _legacy_rows(record.get("runs"))  # an older version kept them inside the record
        rows, bad, seen = [], 0, set()
        for line in _tail_lines(self.runs_path, limit):
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                bad += 1
                continue
            if not isinstance(row, dict):
                bad += 1
            elif row.get("id") not in seen:
                seen.add(row.get("id"))
                rows.append(row)
        pending = [{**row, "run": 0} for row in self._pending_rows if row["id"] not in seen]
        rows = [r for r in legacy if r["id"] not in seen] + rows + pending
        total = _count(record, "runs_logged") + len(legacy) + len(pending)
        return rows[-limit:], bad, total

    def clear_runs(self) -> None:
        """Empty the log; its rows are kept in a file beside it (a clear can be undone)."""
        self._pending_rows.clear()
        try:
            with self._locked():
                if os.path.lexists(self.runs_path):
                    os.rename(self.runs_path, self._aside_name("runs-cleared"))
        except OSError as error:
            self.problem = f"could not clear the log: {error}"
            return

        def change(record: dict) -> None:
            record.pop("runs", None)
            record["runs_logged"] = 0
        self.update(change)

    # ------------------------------------------------------------------ starting over

    def reset(self) -> Path | None:
        """Start over; the old file is kept beside it (returned) so a reset can be undone."""
        self._pending.clear()
        self._saved = json.dumps(empty())
        self.problem = ""
        if _unusable(self.path) or not self.path.is_file():
            return None
        kept = self._aside_name("reset")
        try:
            os.rename(self.path, kept)
        except OSError as error:
            self.problem = f"could not reset: {self.path} could not be renamed ({error})"
            return None
        return kept


_UNUSABLE = "progress is kept in memory only, because of"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _unusable(path: Path) -> str:
    """Why `path` cannot be the progress file now ("" if it can, or does not exist yet)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return ""
    except OSError as error:
        return f"it cannot be looked at ({error.strerror or error})"
    if stat.S_ISLNK(mode):
        return ("it is a symbolic link, and the course never writes through one: set "
                f"{ENV} to the file itself")
    if stat.S_ISDIR(mode):
        return f"it is a folder, not a progress file: remove it or set {ENV} to a file path"
    if not stat.S_ISREG(mode):
        return f"it is a special file (a pipe or a device), not a progress file: set {ENV} to a file"
    return ""


def _read_regular(path: Path) -> str:
    """The text of a regular file, opened without following a link and without blocking on a
    pipe that took its place since it was looked at."""
    descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        return file.read().decode("utf-8")


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
    return (bool(new.get("passed")), new.get("rank", 0.0)) > (bool(best.get("passed")),
                                                             best.get("rank", 0.0))


def _count(record: dict, key: str) -> int:
    value = record.get(key, 0)
    return value if _is_int(value) and value >= 0 else 0


def _tail_lines(path: Path, limit: int) -> list[bytes]:
    """The last `limit` lines of a file, read from its end (its size does not matter). A
    missing, linked or special file reads as empty."""
    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK)
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
    return [{**r, "id": r.get("id") or f"legacy-{r.get('run')}-{i}"}
            for i, r in enumerate(rows) if isinstance(r, dict)]


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


def _practice_ok(entry: Any) -> bool:
    if not isinstance(entry, dict):
        return False
    if "hints" in entry and not _is_int(entry["hints"]):
        return False
    if "answer" not in entry:
        return set(entry) <= {"hints"}
    return isinstance(entry["answer"], str) and _is_int(entry.get("attempts")) \
        and entry["attempts"] >= 1 and isinstance(entry.get("correct"), bool) \
        and isinstance(entry.get("solved"), bool)


def _test_ok(entry: Any) -> bool:
    if not (isinstance(entry, dict) and _is_int(entry.get("seed"))
            and isinstance(entry.get("answers"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in entry["answers"].items())):
        return False
    score = entry.get("score")
    return score is None or (isinstance(score, dict) and _is_int(score.get("correct"))
                             and _is_int(score.get("total"))
                             and isinstance(score.get("by_difficulty"), dict))


def _verdict_ok(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("attempts"), list) \
        and all(isinstance(a, dict) for a in entry["attempts"]) \
        and (entry.get("best") is None or isinstance(entry["best"], dict))


def _prediction_ok(entry: Any) -> bool:
    choices = entry.get("choices") if isinstance(entry, dict) else None
    return isinstance(choices, dict) and all(isinstance(k, str) and isinstance(v, str)
                                             for k, v in choices.items())


_ENTRY_CHECKS = {"practice": _practice_ok, "verdicts": _verdict_ok, "predictions": _prediction_ok,
                 "tests": lambda entry: _test_ok(entry)}
