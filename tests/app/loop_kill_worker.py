"""The live loop, or its learning manager, in a process of its own, for the kill -9 tests.

Usage::

    python loop_kill_worker.py all|loop WORKSPACE PREFIX [KILL_BAR DELAY_MS]
    python loop_kill_worker.py learning WORKSPACE PREFIX [KILL_CYCLE DELAY_MS]

Runs (or resumes) the resume drill of :mod:`loop_resume_support` on the Redis bus
under PREFIX: the whole loop (``all``), the loop without learning (``loop``), or
the learning manager alone as a consumer of the loop's bars (``learning``).
With KILL_BAR (KILL_CYCLE), the process sends itself SIGKILL DELAY_MS
milliseconds after that bar (that learning cycle of this process, from 1) begins,
wherever it then is: inside the bar's transaction, between the bus and the commit,
inside a model's training or registration. Exits 0 with the result's JSON on
stdout when the run finishes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from loop_resume_support import loop_config

import alphaloop.app.learning as learning_module
from alphaloop.app import Workspace
from alphaloop.app.run_learning import run_learning_role
from alphaloop.app.run_loop import run_loop
from alphaloop.live.loop_config import LoopConfig


def main() -> None:
    role, root, prefix = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    kill_at = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    delay_s = float(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.0
    sys.setswitchinterval(0.0002)  # the killing thread runs soon after its timer

    def arm() -> None:
        timer = threading.Timer(delay_s, lambda: os.kill(os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()

    def on_bar(k: int, _ts: object) -> None:
        if k == kill_at:
            arm()

    real, calls = learning_module.learning_cycle, [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if role == "learning" and calls[0] == kill_at:
            arm()
        return real(*args, **kwargs)

    learning_module.learning_cycle = counted
    ws = Workspace(root)
    config = LoopConfig.model_validate(loop_config(prefix))
    if role == "learning":
        print(json.dumps(dict(run_learning_role(ws, config, block_ms=200))))
    else:
        result = run_loop(ws, config, on_bar=on_bar, learning=role == "all")
        print(json.dumps(result.to_dict()))


if __name__ == "__main__":
    main()
