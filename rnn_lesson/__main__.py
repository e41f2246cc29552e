"""`python -m rnn_lesson ...` (see rnn_lesson.cli). Ctrl-C anywhere, even while the command line
is still importing torch, prints one line and exits with 130."""

import sys

INTERRUPTED = "\nInterrupted: the runs that finished are kept in the cache.\n"

try:
    from .cli import main

    sys.exit(main())
except KeyboardInterrupt:
    sys.stderr.write(INTERRUPTED)
    sys.exit(130)
