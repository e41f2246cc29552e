"""A call that must not block: run in a thread, failed if it has not returned in time."""

from __future__ import annotations

import threading


def in_thread(function, seconds: float = 10):
    done = []
    thread = threading.Thread(target=lambda: done.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"{function} blocked"
    return done[0]
