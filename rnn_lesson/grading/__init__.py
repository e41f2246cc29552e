"""Grading a learner's code in fresh processes it cannot reach, with a time and a memory limit.

    sandbox.py   the grader and the worker (siblings from the course's forkserver, talking plain
                 JSON one way), the time limit, the worker's walls (limits, nobody, seccomp,
                 Landlock) and the guard that keeps the course out of the learner's reach, code
                 from a notebook as source
    fix.py       the fix exercise: the learner's nn.Module and settings, trained by the course's
                 train() and judged on data its code cannot know (notebook 02, and the CLI's grade)
    loop.py      the loop exercise: the learner's early-stopping lines, judged by behaviour

The notebook's side (check_my_fix, check_my_loop: what the learner sees, the progress file) is in
rnn_lesson.lessons.
"""

from .fix import Report, Settings, Submission, grade
from .loop import LOOP, LoopReport, LoopSubmission, grade_loop
from .sandbox import Limits, class_source, source_of

__all__ = ["LOOP", "Limits", "LoopReport", "LoopSubmission", "Report", "Settings", "Submission",
           "class_source", "grade", "grade_loop", "source_of"]
