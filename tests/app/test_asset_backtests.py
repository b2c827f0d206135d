"""Instruments, universes and corporate actions through the workspace, the backtest and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.app.factors import evaluate_dataset
from alphaloop.backtest.spec import StrategySpec
from alphaloop.cli import main
from alphaloop.data.universe import membership_mask
from alphaloop.errors import AssetDataError
from tests.conftest import write_csv

ASSETS = ("AAA", "BBB", "CCC", "DDD", "ESX", "FFF")


def _prices(path: Path) -> Path:
    rng = np.random.default_rng(11)
    index = pd.bdate_range("2022-01-03", periods=320)
    rows = []
    for k, asset in enumerate(ASSETS):
        close = (50 + 10 * k) * np.exp(np.cumsum(rng.normal(0.0003, 0.015, len(index))))
        opens = close * np.exp(rng.normal(0, 0.003, len(index)))
        for t, day in enumerate(index):
            rows.append((day.date().isoformat(), asset, opens[t], close[t], 1e6))
    frame = pd.DataFrame(rows, columns=["date", "asset", "open", "close", "volume"])
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("assets")
    workspace = Workspace(root / "ws")
    workspace.data._bundled_ready = True
    workspace.data.import_file(_prices(root / "prices.csv"), "prices")
    yield workspace
    workspace.close()


def _spec(**over: object) -> StrategySpec:
    base = {
        "name": "mom",
        "data": "prices",
        "signal": {"expr": "$close / Ref($close, 20) - 1"},
        "portfolio": {"k": 2},
        "rebalance": {"every": 5},
    }
    return StrategySpec.from_dict({**base, **over})


def test_instruments_change_units_only_where_stored(ws: Workspace, tmp_path: Path) -> None:
    before = run_backtest(ws, _spec(), record=False)
    write_csv(
        tmp_path / "inst.csv",
        """
        symbol,asset_class,currency,multiplier,expiry
        ESX,future,USD,50,2030-12-20
        """,
    )
    from alphaloop.data.assets import InstrumentStore

    store = InstrumentStore(ws.db)
    store.import_file(tmp_path / "inst.csv")
    try:
        after = run_backtest(ws, _spec(), record=False)
    finally:
        with ws.db.session() as session:
            from alphaloop.store import InstrumentRow

            session.query(InstrumentRow).delete()
    opens = ws.data.load("prices").frame("open")
    trades = after.simulation.trades
    es = trades[trades["asset"] == "ESX"]
    assert len(es) > 0
    # one unit is one contract: prices are quoted points x 50, quantities whole contracts
    expected = [opens.at[t, "ESX"] * 50 for t in es["time"]]
    np.testing.assert_allclose(es["price"].to_numpy(), expected)
    np.testing.assert_allclose(es["shares"], np.round(es["shares"]))
    assert any("ESX: multiplier 50, lots of 1" in n for n in after.assumptions["notes"])
    # other assets trade as before up to the first ESX trade (same signal, same prices)
    first = es["time"].min()
    old = before.simulation.trades
    other_before = old[(old["asset"] != "ESX") & (old["time"] < first)]
    other_after = trades[(trades["asset"] != "ESX") & (trades["time"] < first)]
    np.testing.assert_allclose(other_before["price"], other_after["price"])
    assert "notes" in before.assumptions
    assert not any("contract terms" in n for n in before.assumptions["notes"])


def test_foreign_currency_needs_a_pair(ws: Workspace, tmp_path: Path) -> None:
    from alphaloop.data.assets import InstrumentStore
    from alphaloop.store import InstrumentRow

    store = InstrumentStore(ws.db)
    write_csv(tmp_path / "i.csv", "symbol,asset_class,currency\nAAA,equity,EUR")
    store.import_file(tmp_path / "i.csv")
    try:
        with pytest.raises(AssetDataError, match="quoted in EUR need a EUR/USD rate"):
            run_backtest(ws, _spec(), record=False)
        write_csv(tmp_path / "p.csv", "symbol,asset_class,currency,base_currency\nFFF,fx,USD,EUR")
        store.import_file(tmp_path / "p.csv")
        result = run_backtest(ws, _spec(), record=False)
        raw = ws.data.load("prices")
        trades = result.simulation.trades.query("asset == 'AAA'")
        assert len(trades) > 0
        rows = raw.index.get_indexer(pd.DatetimeIndex(trades["time"]))
        rate_before = raw.frame("close")["FFF"].to_numpy()[rows - 1]
        expected = raw.frame("open")["AAA"].to_numpy()[rows] * rate_before
        np.testing.assert_allclose(trades["price"].to_numpy(), expected)
        assert any(
            "converted from EUR to the base currency USD" in n for n in result.assumptions["notes"]
        )
    finally:
        with ws.db.session() as session:
            session.query(InstrumentRow).delete()


def test_universe_restricts_backtests_and_factor_scores(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(
        tmp_path / "members.csv",
        """
        symbol,start,end
        AAA,2022-01-01,
        BBB,2022-01-01,2022-06-30
        CCC,2022-03-01,
        DDD,2022-01-01,
        GONE,2022-01-01,2022-02-01
        """,
    )
    code, out, err = _cli(capsys, ws, "data", "universe", "import", "prices", str(path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    code, shown, _ = _cli(capsys, ws, "data", "universe", "show", "prices", "--json")
    assert code == 0
    assert {"symbol": "BBB", "start": "2022-01-01", "end": "2022-06-30"} in json.loads(shown)
    code, _, err = _cli(capsys, ws, "data", "universe", "show", "nothing")
    assert code == 2
    assert "no universe is stored for 'nothing'" in err
    assert doc["missing"] == ["GONE"]
    assert doc["never_members"] == ["ESX", "FFF"]
    try:
        result = run_backtest(ws, _spec(), record=False)
        held = result.simulation.trades
        assert not held["asset"].isin(["ESX", "FFF"]).any()
        late_bbb = held[(held["asset"] == "BBB") & (held["time"] > "2022-07-02")]
        assert (late_bbb["shares"] < 0).all()  # after it left, BBB is only sold
        early_ccc = held[(held["asset"] == "CCC") & (held["time"] < "2022-03-01")]
        assert early_ccc.empty
        assert any("survivorship partly removed" in c for c in result.dataset.caveats)
        assert any(
            "point-in-time universe of 'prices' applied" in n for n in result.assumptions["notes"]
        )
        evaluated = evaluate_dataset(ws.data, {"m": "$close"}, "prices", workspace=ws)
        spans = ws_spans(ws)
        mask = membership_mask(evaluated.panel.index, evaluated.panel.assets, spans)
        np.testing.assert_array_equal(evaluated.panel.membership, mask)
        assert any("point-in-time universe" in c for c in evaluated.caveats)
    finally:
        from alphaloop.store import UniverseMemberRow

        with ws.db.session() as session:
            session.query(UniverseMemberRow).delete()


def ws_spans(ws: Workspace) -> pd.DataFrame:
    from alphaloop.data.universe import UniverseStore

    spans = UniverseStore(ws.db).spans("prices")
    assert spans is not None
    return spans


def _cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_instruments_and_actions(
    ws: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    inst = write_csv(
        tmp_path / "inst.csv",
        """
        symbol,asset_class,currency,multiplier,tick_size,expiry,root
        ESZ0,future,USD,50,0.25,2030-12-20,ES
        """,
    )
    code, out, err = _cli(capsys, ws, "data", "instruments", "import", str(inst))
    assert code == 0, err
    assert "stored 1 instrument(s): future" in out
    code, out, _ = _cli(capsys, ws, "data", "instruments", "list")
    assert "ESZ0" in out
    assert "2030-12-20" in out
    code, out, _ = _cli(capsys, ws, "data", "instruments", "show", "ESZ0", "--json")
    assert json.loads(out)["multiplier"] == 50
    code, out, err = _cli(capsys, ws, "data", "instruments", "show", "NOPE")
    assert code == 2
    assert "no instrument 'NOPE'" in err
    assert "Traceback" not in err
    bad = write_csv(tmp_path / "bad.csv", "symbol,asset_class,currency\nX,bond,USD")
    code, out, err = _cli(capsys, ws, "data", "instruments", "import", str(bad))
    assert code == 2
    assert "line 2" in err
    assert "Traceback" not in err
    events = write_csv(
        tmp_path / "ev.csv",
        "date,symbol,kind,value\n2022-06-01,AAA,split,2\n2022-09-01,AAA,dividend,0.5",
    )
    code, out, err = _cli(capsys, ws, "data", "actions", "import", "prices", str(events))
    assert code == 0, err
    assert "1 split(s), 1 dividend(s)" in out
    code, out, _ = _cli(capsys, ws, "data", "actions", "list", "prices", "--as-of", "2022-07-01")
    assert "2022-06-01" in out
    assert "2022-09-01" not in out
    code, _, err = _cli(capsys, ws, "data", "actions", "list", "prices", "--as-of", "July")
    assert code == 2
    assert "--as-of must be a date" in err
    path = tmp_path / "adj.csv"
    code, out, err = _cli(
        capsys, ws, "data", "actions", "view", "prices", "--view", "adjusted",
        "--as-of", "2022-07-01", "--out", str(path),
    )  # fmt: skip
    assert code == 0, err
    view = pd.read_csv(path)
    raw = ws.data.load("prices").frame("close")["AAA"]
    adj = view[view["asset"] == "AAA"]["close"].to_numpy()
    before = raw.index < "2022-06-01"
    np.testing.assert_allclose(adj[before], raw.to_numpy()[before] / 2)  # the split only
    np.testing.assert_allclose(adj[~before], raw.to_numpy()[~before])
    code, out, err = _cli(
        capsys, ws, "data", "actions", "view", "prices", "--view", "nope", "--out", str(path)
    )
    assert code == 2
    assert "unknown view" in err


def test_cli_continuous_futures(
    ws: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alphaloop.data.futures import CalendarRoll, continuous_contract
    from tests.data.test_futures import EXPIRIES, _contracts

    monkeypatch.setenv("COLUMNS", "200")
    data = _contracts()
    rows = pd.concat(
        [f.assign(contract=c).rename_axis("timestamp").reset_index() for c, f in data.items()]
    )
    rows["timestamp"] = rows["timestamp"].dt.strftime("%Y-%m-%d")
    contracts = tmp_path / "contracts.csv"
    rows.to_csv(contracts, index=False)
    args = ("data", "futures", "continuous", str(contracts), "--name", "es", "--symbol", "ES")
    code, _, err = _cli(capsys, ws, *args)
    assert code == 2
    assert "no stored future instrument with an expiry for contract(s) ESH7" in err
    inst = "symbol,asset_class,currency,multiplier,expiry\n" + "\n".join(
        f"{c},future,USD,50,{e.isoformat()}" for c, e in EXPIRIES.items()
    )
    code, _, err = _cli(
        capsys, ws, "data", "instruments", "import", str(write_csv(tmp_path / "i.csv", inst))
    )
    assert code == 0, err
    rolls = tmp_path / "rolls.csv"
    code, out, err = _cli(capsys, ws, *args, "--adjust", "ratio", "--rolls-out", str(rolls))
    assert code == 0, err
    assert "2 roll(s)" in out
    assert "ESH7" in out
    expected = continuous_contract(data, EXPIRIES, rule=CalendarRoll(5), adjust="ratio")
    stored = ws.data.load("es")
    assert stored.assets == ("ES",)
    np.testing.assert_allclose(
        stored.frame("close")["ES"].to_numpy(), expected.frame["close"].to_numpy(), rtol=1e-9
    )
    schedule = pd.read_csv(rolls)
    assert list(schedule["to_contract"]) == ["ESM7", "ESU7"]
    assert any("continuous contract" in c for c in ws.data.info("es").caveats)
    # contracts up to the first roll's decision: that roll is listed, effective after the end
    cut = expected.rolls["decided_at"].iloc[0].strftime("%Y-%m-%d")
    rows[rows["timestamp"] <= cut].to_csv(contracts, index=False)
    code, out, err = _cli(capsys, ws, *args, "--name", "es-cut", "--rolls-out", str(rolls))
    assert code == 0, err
    assert "effective after the end" in out
    assert "after the end" in out.split("roll schedule")[1]
    schedule = pd.read_csv(rolls)
    assert list(schedule["to_contract"]) == ["ESM7"]
    assert schedule["effective_at"].isna().all()
