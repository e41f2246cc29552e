"""`python -m rnn_lesson ...` (see rnn_lesson.cli). Ctrl-C anywhere, even while torch is still
loading (the package's __init__ catches that one), prints one line and exits with 130."""

import signal
import sys

from . import INTERRUPTED

try:
    from .cli import main

    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on: KeyboardInterrupt
    sys.exit(main())
except KeyboardInterrupt:
    sys.stderr.write(INTERRUPTED)
    sys.exit(130)
