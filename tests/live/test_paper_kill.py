"""A paper session killed with SIGKILL at random points (seeded) carries on to the same end.

Each round starts ``alphaloop paper start SPEC`` as a real process (forked
from a process that has imported the CLI, see ``zygote.py``), waits
until it has recorded a few more bars, waits a random extra moment and
kills it with SIGKILL. The next ``paper start`` of the same spec finds the
unfinished session, rebuilds the broker, reconciles and carries on. After
ten kills a last start (a fresh ``python -m alphaloop.cli``) runs to the
end: every fill, the positions, cash and equity must equal the event
backtest of the spec (an uninterrupted run), with no fill lost or doubled.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from alphaloop.app import Workspace, paper_report, paper_store, run_backtest
from alphaloop.backtest import StrategySpec, quick_spec

KILLS = 10
# bars per second: a round runs at most ~50 bars (5 recorded, then up to 0.4 s), so ten
# rounds stay well inside the ~1,000 bars and a round can never reach the end and exit
# before its kill (at 600 bars/s a late round could, and the kill found no process)
SPEED = 100.0


ZYGOTE = Path(__file__).with_name("zygote.py")


def _env() -> dict[str, str]:
    return {**os.environ, "ALPHALOOP_HOLDOUT_FRACTION": "0"}


def _cli(root: Path, spec_file: Path) -> list[str]:
    return ["--workspace", str(root), "paper", "start", str(spec_file), "--speed", str(SPEED)]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
def test_ten_sigkills_at_random_points_lose_and_double_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    ws = Workspace(root)
    ws.data.ensure_bundled()
    base = quick_spec("Ref($close, 1) / Ref($close, 21) - 1", "sp500-stocks", top_k=3)
    spec = StrategySpec.from_dict(
        {**base.model_dump(mode="json"), "rebalance": {"frequency": "weekly"},
         "fills": "next_close", "start": "2016-01-01", "end": "2019-12-31"}
    )  # fmt: skip
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec.model_dump(mode="json")))
    store = paper_store(ws)
    rng = random.Random(16)
    positions = []
    session_id = None
    log = tmp_path / "rounds.log"
    zygote = subprocess.Popen(
        [sys.executable, str(ZYGOTE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env=_env(), text=True,
    )  # fmt: skip
    assert zygote.stdin is not None
    assert zygote.stdout is not None
    try:
        for _ in range(KILLS):
            before = store.get(session_id).position if session_id else 0
            zygote.stdin.write(json.dumps([str(log), *_cli(root, spec_file)]) + "\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                sessions = store.list(1)
                if sessions and sessions[0].position > before + 5:
                    session_id = sessions[0].id
                    break
                assert not _gone(pid), log.read_text()[-2000:]
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.4))
            os.kill(pid, signal.SIGKILL)
            while not _gone(pid):
                time.sleep(0.01)
            assert session_id is not None
            info = store.get(session_id)
            assert info.state == "interrupted"
            assert info.position < info.n_bars
            positions.append(info.position)
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
    assert positions == sorted(positions)
    assert len(set(positions)) == KILLS  # ten distinct points
    final = subprocess.Popen(
        [sys.executable, "-m", "alphaloop.cli", *_cli(root, spec_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )  # fmt: skip
    _stdout, stderr = final.communicate(timeout=300)
    assert final.returncode == 0, stderr.decode()[-2000:]
    assert f"resuming paper session {session_id}" in stderr.decode()
    info = store.get(session_id)  # type: ignore[arg-type]
    assert info.status == "finished"
    assert info.restarts == KILLS
    assert len(info.reconciliations) == KILLS
    backtest = run_backtest(ws, spec, engine="event", record=False).simulation
    fills = store.fills(info.id)
    assert fills["fill_id"].is_unique
    assert len(fills) == len(backtest.trades)
    np.testing.assert_array_equal(
        fills["quantity"].to_numpy(), backtest.trades["shares"].to_numpy()
    )
    np.testing.assert_array_equal(fills["price"].to_numpy(), backtest.trades["price"].to_numpy())
    held = backtest.trades.groupby("asset", observed=True)["shares"].sum()
    recorded = store.positions(info.id)
    assert set(recorded) == {a for a, q in held.items() if abs(q) > 1e-9}
    for asset, shares in recorded.items():
        assert shares == pytest.approx(held[asset], rel=1e-12)
    assert info.equity == backtest.equity.iloc[-1]
    assert paper_report(ws, info.id).agrees
    ws.close()
