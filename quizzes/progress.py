"""The learner's progress, kept in one local JSON file so that nothing is lost with the kernel.

    path: $RNN_LESSON_PROGRESS, or ~/.rnn_lesson/progress.json

What it holds: the last answer to every practice question (and how many tries), the test's answers
and its last score by difficulty, the verdict of each graded task with its numbers and date, and
the panel's log of runs. Every change is a locked read-modify-write followed by an atomic replace,
so two notebooks open at once never lose each other's answers and a crash never leaves half a
file. A file that cannot be read (not JSON, not the expected shape) is moved aside with a clear
message and a fresh one is started; a folder in its place, or a place that cannot be written,
is reported and the course goes on without saving.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

ENV = "RNN_LESSON_PROGRESS"
VERSION = 1
SECTIONS = {"practice": dict, "test": dict, "verdicts": dict, "runs": list}
SAVE_FAILED = "progress could not be saved to"


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
        self._memory: dict[str, Any] | None = None  # used when the file cannot be read at all
        self._last: dict[str, Any] | None = None  # the last record read or written

    # ------------------------------------------------------------------ reading and writing

    def load(self) -> dict[str, Any]:
        """The progress so far (a fresh record if there is none or it was unreadable)."""
        if self._memory is not None:
            return self._memory
        if self.path.is_dir():
            return self._unsaved(f"{self.path} is a folder, not a progress file: remove it or set "
                                 f"{ENV} to a file path. Progress is not saved meanwhile.")
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty()
        except (OSError, UnicodeDecodeError) as error:
            return self._set_aside(f"it could not be read ({error})")
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            return self._set_aside(f"it is not valid JSON ({error})")
        shape = _shape_problem(record)
        if shape:
            return self._set_aside(shape)
        self._last = record
        return record

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply `change` to the latest record and save it atomically; returns the new record."""
        if self._memory is not None:
            change(self._memory)
            return self._memory
        try:
            with self._locked():
                record = self.load()
                if self._memory is not None:  # load found a folder: nothing to save to
                    change(self._memory)
                    return self._memory
                change(record)
                partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                partial.write_text(json.dumps(record, indent=1), encoding="utf-8")
                partial.replace(self.path)
                if self.problem.startswith(SAVE_FAILED):  # saved again: that problem is over
                    self.problem = ""
                self._last = record
                return record
        except OSError as error:
            # Not saved this time (a full disk, a folder that cannot be written): say so, keep
            # what was last read, and try the file again at the next change.
            self.problem = (f"{SAVE_FAILED} {self.path} ({error}): set {ENV} to a "
                            "writable file. The course goes on; this change lives until the kernel stops.")
            record = self._last if self._last is not None else empty()
            change(record)
            self._last = record
            return record

    def _unsaved(self, message: str) -> dict[str, Any]:
        self.problem = message
        self._memory = empty()
        return self._memory

    def _set_aside(self, why: str) -> dict[str, Any]:
        kept = self.path.with_name(f"{self.path.name}.unreadable-{_dt.datetime.now():%Y%m%d-%H%M%S}")
        try:
            self.path.replace(kept)
        except OSError:
            return self._unsaved(f"your progress file {self.path} is unreadable: {why}, and it "
                                 "could not be moved aside. Progress is not saved meanwhile.")
        self.problem = (f"your progress file was unreadable: {why}. It was kept as {kept} and a "
                        "new one was started.")
        return empty()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on a file beside the progress file (POSIX; elsewhere no lock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: single notebook use is still safe (atomic replace)
            yield
            return
        with open(self.path.with_name(f".{self.path.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ what is recorded

    def record_answer(self, question_id: str, letter: str, correct: bool) -> None:
        def change(record: dict) -> None:
            entry = record["practice"].get(question_id, {"attempts": 0})
            record["practice"][question_id] = {
                "answer": letter, "correct": bool(correct),
                "attempts": int(entry.get("attempts", 0)) + 1,
                "solved": bool(entry.get("solved")) or bool(correct), "at": now()}
        self.update(change)

    def answer(self, question_id: str) -> dict[str, Any] | None:
        return self.load()["practice"].get(question_id)

    def record_test_answer(self, question_id: str, letter: str | None) -> None:
        def change(record: dict) -> None:
            answers = record["test"].setdefault("answers", {})
            if letter is None:
                answers.pop(question_id, None)
            else:
                answers[question_id] = letter
        self.update(change)

    def test_answers(self) -> dict[str, str]:
        return dict(self.load()["test"].get("answers", {}))

    def record_test_score(self, score: int, total: int,
                          by_difficulty: dict[str, tuple[int, int]]) -> None:
        def change(record: dict) -> None:
            record["test"]["score"] = {"correct": score, "total": total, "at": now(),
                                       "by_difficulty": {d: list(v) for d, v in by_difficulty.items()}}
        self.update(change)

    def record_verdict(self, task: str, passed: bool, numbers: dict[str, float],
                       settings: str = "") -> None:
        def change(record: dict) -> None:
            record["verdicts"][task] = {"passed": bool(passed), **numbers,
                                        "settings": settings, "at": now()}
        self.update(change)

    def add_run(self, row: dict[str, Any]) -> int:
        """Append a run of the panel's log, numbered after the file's last one; returns its number."""
        number = [0]

        def change(record: dict) -> None:
            numbers = [r.get("run") for r in record["runs"] if isinstance(r, dict)]
            number[0] = max((n for n in numbers if isinstance(n, int)), default=0) + 1
            record["runs"].append({**row, "run": number[0]})
        self.update(change)
        return number[0]

    def clear_runs(self) -> None:
        self.update(lambda record: record["runs"].clear())

    def reset(self) -> Path | None:
        """Start over; the old file is kept beside it (returned) so a reset can be undone."""
        self._memory = self._last = None
        self.problem = ""
        if not self.path.is_file():
            return None
        kept = self.path.with_name(f"{self.path.name}.reset-{_dt.datetime.now():%Y%m%d-%H%M%S}")
        try:
            self.path.replace(kept)
        except OSError as error:
            self.problem = f"could not reset: {self.path} could not be renamed ({error})"
            return None
        return kept


def _shape_problem(record: Any) -> str:
    if not isinstance(record, dict):
        return f"it holds a JSON {type(record).__name__}, not an object"
    for name, kind in SECTIONS.items():
        if not isinstance(record.get(name), kind):
            return f"its '{name}' part is missing or not a {kind.__name__}"
    return ""


def report(record: dict[str, Any]) -> str:
    """Everything in a progress record, as the plain text the progress cell shows (entries of
    an unexpected shape are reported as such, not trusted)."""
    try:
        return _report(record)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return f"Part of your progress file has an unexpected shape ({error!r}); reset it to start over."


def _report(record: dict[str, Any]) -> str:
    from .questions import NOTEBOOK_OF, get_question

    lines = ["Practice questions, by notebook:"]
    by_notebook: dict[str, list[str]] = {}
    for qid, notebook in NOTEBOOK_OF.items():
        entry = record["practice"].get(qid)
        state = ("not answered yet" if entry is None else
                 f"solved in {entry['attempts']} tr{'y' if entry['attempts'] == 1 else 'ies'}"
                 if entry.get("solved") else f"answered {entry['answer']}, not right yet")
        by_notebook.setdefault(notebook, []).append(f"{qid} {state}")
    for notebook, items in sorted(by_notebook.items()):
        solved = sum("solved" in item for item in items)
        lines.append(f"  notebook {notebook}: {solved}/{len(items)} solved ({'; '.join(items)})")
    score = record["test"].get("score")
    if score:
        parts = ", ".join(f"{d} {c}/{t}" for d, (c, t) in score["by_difficulty"].items())
        lines.append(f"Test: {score['correct']}/{score['total']} ({parts}), {score['at'].replace('T', ' ')}")
    else:
        answered = len(record["test"].get("answers", {}))
        lines.append(f"Test: not scored yet ({answered} of 10 answered)")
    if record["verdicts"]:
        for task, v in record["verdicts"].items():
            numbers = ", ".join(f"{k.replace('_acc', '')} {v[k]:.1%}" for k in ("val_acc", "train_acc")
                                if isinstance(v.get(k), (int, float)))
            lines.append(f"Task '{task}': {'passed' if v['passed'] else 'not passed'} ({numbers}; "
                         f"{v.get('settings', '')}), {str(v.get('at', '')).replace('T', ' ')}")
    else:
        lines.append("Tasks: none graded yet (notebook 02: check_my_fix)")
    lines.append(f"Runs in the panel's log: {len(record['runs'])}")
    return "\n".join(lines)
