"""A process that has imported alphaloop's CLI and forks one child per command line.

Used by the kill test so that each of its many real processes does not pay
the interpreter's start and the imports again. Reads JSON lists of CLI
arguments on stdin; for each, forks a child that runs
``alphaloop.cli.main(args)`` (output to the file named by the first
element) and exits with its code, and writes the child's pid on stdout.
Children are reaped automatically (SIGCHLD ignored), so a killed child
disappears at once.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import alphaloop.app.paper
import alphaloop.app.specs
import alphaloop.backtest.event_plan
import alphaloop.live.reconcile  # noqa: F401
from alphaloop.cli import main


def serve() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        log, *args = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            code = 70
            try:
                code = main(args)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
