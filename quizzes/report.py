"""The progress cell's text: everything in a progress record, in words."""

from __future__ import annotations

from typing import Any

from .messages import PHASES
from .questions import NOTEBOOK_OF
from .session import by_difficulty_text


def report(record: dict[str, Any]) -> str:
    """Everything in a progress record, as the plain text the progress cell shows (the record has
    been checked by `Progress.load`, which leaves out entries of an unexpected shape)."""
    return "\n".join([*_practice(record["practice"]), *_tests(record["tests"]),
                      *_verdicts(record["verdicts"]), *_predictions(record["predictions"]),
                      _runs(record)])


def _practice(practice: dict) -> list[str]:
    lines = ["Practice questions, by notebook:"]
    by_notebook: dict[str, list[str]] = {}
    for qid, notebook in NOTEBOOK_OF.items():
        entry = practice.get(qid) or {}
        hints = f", hint used" if entry.get("hints") else ""
        if "answer" not in entry:
            state = "not answered yet" + hints
        elif entry["solved"]:
            state = f"solved in {entry['attempts']} tr{'y' if entry['attempts'] == 1 else 'ies'}{hints}"
        else:
            state = f"answered {entry['answer']}, not right yet{hints}"
        by_notebook.setdefault(notebook, []).append(f"{qid} {state}")
    for notebook, entries in sorted(by_notebook.items()):
        solved = sum(" solved" in entry for entry in entries)
        lines.append(f"  notebook {notebook}: {solved}/{len(entries)} solved ({'; '.join(entries)})")
    return lines


def _score(attempt: dict | None) -> str:
    if attempt is None:
        return "not taken yet"
    score = attempt.get("score")
    if score is None:
        return f"started, {len(attempt['answers'])} of 10 answered"
    return (f"{score['correct']}/{score['total']} ({by_difficulty_text(score['by_difficulty'])}), "
            f"{str(score.get('at', '')).replace('T', ' ')}")


def _tests(tests: dict) -> list[str]:
    lines = [f"{PHASES[phase].capitalize()}: {_score(tests.get(phase))}" for phase in PHASES]
    pre, post = (tests.get(phase, {}).get("score") for phase in PHASES)
    if pre and post:
        parts = ", ".join(f"{d} {post['by_difficulty'][d][0] - pre['by_difficulty'].get(d, [0])[0]:+d}"
                          for d in post["by_difficulty"])
        lines.append(f"Gain: {post['correct'] - pre['correct']:+d} of {post['total']} ({parts})")
    return lines


def _verdicts(verdicts: dict) -> list[str]:
    if not verdicts:
        return ["Graded exercises: none yet (notebook 02: check_my_fix and check_my_loop)"]
    lines = []
    for task, entry in verdicts.items():
        best, count = entry.get("best"), len(entry["attempts"])
        if best is None:
            lines.append(f"Exercise '{task}': {count} attempts, none graded")
            continue
        numbers = ", ".join(f"{k.replace('_acc', '')} {best[k]:.1%}" for k in ("val_acc", "train_acc")
                            if isinstance(best.get(k), (int, float)))
        settings = f"; {best['settings']}" if best.get("settings") else ""
        lines.append(f"Exercise '{task}': {'passed' if best.get('passed') else 'not passed yet'} "
                     f"(best of {count} attempt{'s' if count != 1 else ''}: attempt {best.get('n')}"
                     f"{', ' + numbers if numbers else ''}{settings}), "
                     f"{str(best.get('at', '')).replace('T', ' ')}")
    return lines


def _predictions(predictions: dict) -> list[str]:
    return [f"Prediction '{name}': " + "; ".join(entry["choices"].values())
            for name, entry in predictions.items()]


def _runs(record: dict) -> str:
    logged = record.get("runs_logged", 0)
    legacy = record.get("runs")
    count = (logged if isinstance(logged, int) else 0) + (len(legacy) if isinstance(legacy, list) else 0)
    return f"Runs in the panel's log: {count}"
