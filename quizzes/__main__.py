"""``python -m quizzes``: the quiz in a terminal (see ``quizzes.cli``). Ctrl-C anywhere prints one
line and exits with 130; the answers given so far are saved."""

import sys

try:
    from .cli import main

    sys.exit(main())
except KeyboardInterrupt:
    sys.stderr.write("\nStopped; your answers so far are saved.\n")
    sys.exit(130)
