"""What the learner reads when their code fails: the error's type and message, the line of their
code that raised it, and advice that fits it."""

from __future__ import annotations

import errno
import linecache
from typing import Any

from ..models import build_model, count_parameters
from ..recipe import FIX
from ..training import ModelError, TrainingDiverged
from . import guard
from .guard import CourseRefused


def explain(error: BaseException, task: Any) -> str:
    """An error from the learner's code: its type, message and the line of their code, with
    advice that fits it (`task.doing`: "training your model")."""
    if isinstance(error, (TrainingDiverged, ModelError, CourseRefused)):
        return _sentence(str(error))
    if out_of_memory(error):
        return memory_message()
    return " ".join(part for part in (
        _sentence(f"{task.doing} raised {what(error)}{where(error, task.origin)}"),
        hint(error)) if part)


def what(error: BaseException) -> str:
    """The error's type and the first line of its message (ValueError: bad shape)."""
    text = str(error).splitlines()[0].strip() if str(error).strip() else ""
    return f"{type(error).__name__}: {text}".rstrip(": ").rstrip(".") if text \
        else type(error).__name__


def where(error: BaseException, origin: str) -> str:
    """The last line of `origin` the error passed through, as " (line 3 of your code: y = f(x))";
    "" when it passed through none."""
    name = f"<{origin}>"
    for filename, line in reversed(guard.frames_of(error.__traceback__)):
        if type(filename) is str and filename == name:  # the guard lets this walk through
            return f" (line {line} of {origin}: {linecache.getline(name, line).strip()})"
    return ""


def hint(error: BaseException) -> str:
    """Advice that fits this error, or none."""
    text = str(error)
    if isinstance(error, PermissionError) or (isinstance(error, OSError) and error.errno in (
            errno.EPERM, errno.EACCES, errno.ENOSYS, errno.EFBIG)) or any(
            words in text for words in ("Operation not permitted", "Permission denied")):
        return ("The grader's sandbox refused it: code graded here may not write files, start "
                "processes, signal other processes or open network connections. Remove it.")
    if isinstance(error, RuntimeError) and "can't start new thread" in text:
        return "The grader runs your code without threads of its own: remove the thread."
    if isinstance(error, ModuleNotFoundError):
        return ("The grader runs your code with torch, numpy and Python's standard library "
                "(the modules the course uses): import only those.")
    if "inplace operation" in text or "modified by an inplace" in text:
        return ("forward changes a tensor in place that autograd still needs: write "
                "out = out + ..., not out += ... (or .add_, [...] = ...).")
    if "does not require grad" in text or "does not have a grad_fn" in text:
        return ("The loss has no gradient: does forward detach its output (.detach(), .item(), "
                "torch.no_grad, numpy)?")
    if "expected scalar type" in text or "Long" in text or "dtype" in text:
        return "forward must return float logits of shape (batch, 2)."
    return ""


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or any(
        words in str(error) for words in ("can't allocate memory", "not enough memory",
                                          "Cannot allocate memory"))


def memory_message() -> str:
    weights = count_parameters(build_model(FIX.model))
    return (f"your model needs more memory than the grader allows: make it smaller (the lesson's "
            f"fix has {weights:,} weights).")


def warning_texts(caught) -> list[str]:
    """The first line of each warning, once, cut to 400 characters (at most 50 of them)."""
    texts = dict.fromkeys((str(w.message).splitlines() or [""])[0][:400] for w in caught)
    return list(texts)[:50]
