"""``python -m quizzes``: the quiz in a terminal (see ``quizzes.cli``)."""

import sys

from .cli import main

sys.exit(main())
