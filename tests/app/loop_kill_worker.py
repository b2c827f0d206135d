"""The live loop in a process of its own, for the kill -9 test.

Usage: ``python loop_kill_worker.py WORKSPACE PREFIX [KILL_BAR DELAY_MS]``. Runs (or
resumes) the resume drill of :mod:`loop_resume_support` on the Redis bus under
PREFIX. With KILL_BAR, the process sends itself SIGKILL DELAY_MS milliseconds after
bar KILL_BAR begins, wherever it then is (inside the bar's transaction, between
the bus and the commit, inside a model's training or registration). Exits 0 with
the result's JSON on stdout when the run finishes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from loop_resume_support import loop_config  # noqa: E402

from alphaloop.app import Workspace  # noqa: E402
from alphaloop.app.run_loop import run_loop  # noqa: E402
from alphaloop.live.loop_config import LoopConfig  # noqa: E402


def main() -> None:
    root, prefix = Path(sys.argv[1]), sys.argv[2]
    kill_bar = int(sys.argv[3]) if len(sys.argv) > 3 else -1
    delay_s = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0.0
    sys.setswitchinterval(0.0002)  # the killing thread runs soon after its timer

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def on_bar(k: int, _ts: object) -> None:
        if k == kill_bar:
            threading.Timer(delay_s, die).start()

    ws = Workspace(root)
    result = run_loop(ws, LoopConfig.model_validate(loop_config(prefix)), on_bar=on_bar)
    print(json.dumps(result.to_dict()))


if __name__ == "__main__":
    main()
