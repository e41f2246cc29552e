"""Grading a learner's code in fresh processes it cannot reach, with a time and a memory limit.

    sandbox.py   the grader and the worker (siblings from the course's forkserver), the time limit
    wire.py      what the worker sends the grader: plain JSON, checked field by field
    walls.py     the worker's walls from the operating system (limits, nobody, seccomp, Landlock)
    guard.py     the course guard in Python: the course, files and processes out of reach
    source.py    code from a notebook as source, and run again in the worker
    feedback.py  what the learner reads when their code fails
    fix.py       the fix exercise: the learner's nn.Module and settings, trained by the course's
                 train() and judged on data its code cannot know (notebook 02, and the CLI's grade)
    loop.py      the loop exercise: the learner's early-stopping lines, judged by behaviour

The notebook's side (check_my_fix, check_my_loop: what the learner sees, the progress file) is in
rnn_lesson.lessons.
"""

from .fix import Report, Settings, Submission, grade
from .loop import LOOP, LoopReport, LoopSubmission, grade_loop
from .sandbox import Limits
from .source import class_source, source_of

__all__ = ["LOOP", "Limits", "LoopReport", "LoopSubmission", "Report", "Settings", "Submission",
           "class_source", "grade", "grade_loop", "source_of"]
