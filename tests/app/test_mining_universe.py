"""Mining on a dataset with a stored point-in-time universe scores members only at each date."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alphaloop.app import Workspace
from alphaloop.app.mining import mine_dataset
from alphaloop.data.universe import UniverseStore, membership_mask
from alphaloop.factors import mining as mining_pkg
from alphaloop.factors.mining import MiningConfig, planted_panel

CONFIG = MiningConfig(budget=60, population=30, pool=2, seed=0, horizon=1)
N_TIMES, N_ASSETS = 200, 12


def _workspace(root: Path, *, noise_after: pd.Timestamp | None = None) -> Workspace:
    """The planted panel; with ``noise_after``, asset A1's prices and volume after that day
    are replaced by noise (a stock that left the universe and later went wild)."""
    pp = planted_panel(alpha="corr_close_volume", seed=11, n_times=N_TIMES, n_assets=N_ASSETS)
    long = pp.panel.to_long()
    if noise_after is not None:
        rng = np.random.default_rng(5)
        rows = (long["asset"] == pp.panel.assets[1]) & (long["timestamp"] > noise_after)
        factor = rng.uniform(0.1, 10.0, int(rows.sum()))  # one per bar: OHLC stay consistent
        for field in ("open", "high", "low", "close", "vwap"):
            if field in long.columns:
                long.loc[rows, field] = long.loc[rows, field] * factor
        if "volume" in long.columns:
            long.loc[rows, "volume"] = rng.uniform(1.0, 1e7, int(rows.sum()))
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "planted.csv"
    long.to_csv(csv, index=False)
    ws = Workspace(root / "ws", holdout_fraction=0.0)
    ws.data.import_file(csv, "planted")
    return ws


def _members(ws: Workspace, root: Path) -> pd.DataFrame:
    """A0 and A1 leave a third of the way in; A2 joins half way; the rest are members."""
    panel = ws.data.load("planted")
    days = panel.index.tz_convert("UTC").date
    leave, join = days[N_TIMES // 3], days[N_TIMES // 2]
    a = panel.assets
    lines = ["symbol,start,end", f"{a[0]},{days[0]},{leave}", f"{a[1]},{days[0]},{leave}",
             f"{a[2]},{join},"] + [f"{s},{days[0]}," for s in a[3:]]  # fmt: skip
    path = root / "members.csv"
    path.write_text("\n".join(lines) + "\n")
    return UniverseStore(ws.db).import_file("planted", path)


def _mine(ws: Workspace, monkeypatch) -> tuple[dict, list]:  # type: ignore[no-untyped-def]
    seen = []
    real = mining_pkg.mine

    def spy(panel, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(panel)
        return real(panel, *args, **kwargs)

    monkeypatch.setattr(mining_pkg, "mine", spy)
    outcome = mine_dataset(ws, "planted", CONFIG)
    assert outcome.status == "finished"
    return outcome.summary, seen


def test_mining_scores_only_members_at_each_date(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ws = _workspace(tmp_path / "a")
    spans = _members(ws, tmp_path / "a")
    summary, seen = _mine(ws, monkeypatch)
    (panel,) = seen
    mask = membership_mask(panel.index, panel.assets, spans)
    np.testing.assert_array_equal(panel.membership, mask)  # the miner saw members only
    assert not mask[-1, :2].any()
    assert not mask[0, 2]
    assert mask[-1, 2]
    ws.close()

    # after A1 left (and past the label horizon), its prices cannot change what is mined
    leave = panel.index[N_TIMES // 3 + CONFIG.horizon + 2]
    wild = _workspace(tmp_path / "b", noise_after=leave)
    _members(wild, tmp_path / "b")
    wild_summary, _ = _mine(wild, monkeypatch)
    wild.close()
    pool = [(m["expression"], m["weight"]) for m in summary["pool"]["members"]]
    wild_pool = [(m["expression"], m["weight"]) for m in wild_summary["pool"]["members"]]
    assert pool
    assert pool == wild_pool
