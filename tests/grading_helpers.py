"""What the grading tests check after every check: no process of it is left behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rnn_lesson.grading import sandbox


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _session(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[4])
    except (OSError, IndexError, ValueError):
        return None


def leftovers() -> list[str]:
    """The processes of the checks this test process ran that are still there: a grader or a
    worker, or anything in a worker's session (its own process group and session)."""
    if not Path("/proc/self/status").exists():
        return []
    started = {pid for group in sandbox.STARTED for pid in group}
    workers = {pid for group in sandbox.STARTED for pid in group[1:]}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        status = _status(pid)
        if not status or status.get("State", "").strip().startswith("Z"):
            continue
        if pid in started or _session(pid) in workers:
            found.append(f"{pid} {status.get('Name', '').strip()} {status.get('State', '').strip()}")
    return found


def assert_no_leftovers(wait: float = 2.0) -> None:
    deadline = time.monotonic() + wait
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers() == []


def descendants(root: int) -> list[int]:
    """The processes below `root` now (children, their children...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
