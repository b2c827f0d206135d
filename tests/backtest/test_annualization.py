"""Annualization follows the dataset's calendar: 24/7 crypto, 24x5 FX, exchange sessions.

A price that grows exactly 10% per calendar year must show an annual return
of 10% whatever its calendar; before calendars were recorded, hourly crypto
bars were annualized as 1,638 bars a year (a 6.5-hour US session) and showed
about 1.8%.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.app.demo import describe_prices
from alphaloop.app.factors import analyze_dataset
from alphaloop.backtest.metrics import periods_per_year_for
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.tearsheet import render_backtest_report, rolling_window
from alphaloop.cli import main
from alphaloop.errors import BacktestError
from alphaloop.execution.costs import CostModel

YEAR = pd.Timedelta(days=365)
START = pd.Timestamp("2021-01-01", tz="UTC")
END = pd.Timestamp("2022-12-31 23:00", tz="UTC")  # two 365-day years


def _crypto_hours() -> pd.DatetimeIndex:
    return pd.date_range(START, END, freq="h")


def _fx_hours() -> pd.DatetimeIndex:
    """The FX week (Sunday 22:00 to Friday 21:00 UTC), closed on 1 January: 260 days a year."""
    hours = pd.date_range(START, END, freq="h")
    dow, hour = hours.day_of_week, hours.hour
    open_ = (dow < 4) | ((dow == 4) & (hour < 22)) | ((dow == 6) & (hour >= 22))
    closed_day = (hours.month == 1) & (hours.day == 1)
    return hours[open_ & ~closed_day]


def _sessions() -> pd.DatetimeIndex:
    """Weekdays with holidays spread over each year so that every year has 252 sessions."""
    days = []
    for year in (2021, 2022):
        weekdays = pd.bdate_range(f"{year}-01-01", f"{year}-12-31", tz="UTC")
        drop = np.linspace(5, len(weekdays) - 5, len(weekdays) - 252).round().astype(int)
        days.append(weekdays.delete(drop))
    return days[0].append(days[1])


def _growing(index: pd.DatetimeIndex, noise: float = 0.0) -> np.ndarray:
    """10% a calendar year; ``noise`` multiplies alternate bars by (1 +- noise)."""
    price = 100.0 * 1.1 ** ((index - START) / YEAR)
    wiggle = 1.0 + noise * np.where(np.arange(len(index)) % 2 == 0, 1.0, -1.0)
    return np.asarray(price * wiggle, dtype=np.float64)


def _write(path: Path, index: pd.DatetimeIndex, close: np.ndarray) -> Path:
    frame = pd.DataFrame(
        {"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "asset": "X", "close": close}
    )
    frame.to_csv(path, index=False)
    return path


CALENDARS = {
    "crypto-hourly": (_crypto_hours, 8760.0),
    "crypto-daily": (lambda: pd.date_range(START, END.normalize(), freq="D"), 365.0),
    "fx-hourly": (_fx_hours, 6240.0),
    "equity-daily": (_sessions, 252.0),
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("annualization")
    workspace = Workspace(root / "ws")
    for name, (calendar, _) in CALENDARS.items():
        index = calendar()
        workspace.data.import_file(_write(root / f"{name}.csv", index, _growing(index)), name)
        noisy = _growing(index, noise=0.002)
        workspace.data.import_file(_write(root / f"{name}-n.csv", index, noisy), f"{name}-noisy")
    return workspace


def _hold(data: str, **over: object) -> StrategySpec:
    """Buy and hold the one asset, without costs (so the growth is exact)."""
    return StrategySpec.from_dict(
        {
            "data": data,
            "signal": {"expr": "$close"},
            "portfolio": {"k": 1},
            "fills": "next_close",
            "costs": CostModel.zero().model_dump(),
            **over,
        }
    )


@pytest.mark.parametrize("name", list(CALENDARS))
def test_ten_percent_a_year_is_ten_percent_on_every_calendar(ws: Workspace, name: str) -> None:
    expected_ppy = CALENDARS[name][1]
    assert ws.data.info(name).market.periods_per_year == expected_ppy
    result = run_backtest(ws, _hold(name), record=False)
    m = result.metrics
    assert m["periods_per_year"] == expected_ppy
    # the first two bars are flat (decided at the first close, filled at the next)
    assert m["annual_return"] == pytest.approx(0.10, abs=1e-3)
    a = result.assumptions["annualization"]
    assert a["periods_per_year"] == expected_ppy
    assert a["source"].startswith("the dataset's calendar")
    assert f"{expected_ppy:,.6g} bars a year" in a["description"]


@pytest.mark.parametrize("name", list(CALENDARS))
def test_volatility_and_sharpe_scale_with_the_calendar(ws: Workspace, name: str) -> None:
    expected_ppy = CALENDARS[name][1]
    result = run_backtest(ws, _hold(f"{name}-noisy"), record=False)
    r = result.simulation.returns.to_numpy()
    m = result.metrics
    assert m["annual_volatility"] == pytest.approx(r.std(ddof=1) * math.sqrt(expected_ppy))
    assert m["sharpe_ratio"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(expected_ppy))


def test_the_spec_and_the_command_line_override_the_dataset(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_backtest(ws, _hold("crypto-daily", periods_per_year=252), record=False)
    assert result.metrics["periods_per_year"] == 252.0
    assert result.assumptions["annualization"]["source"] == "the spec (periods_per_year)"
    assert "set in the spec" in result.assumptions["annualization"]["description"]
    args = ["--workspace", str(ws.root), "backtest", "--expr", "$close", "--data", "crypto-daily"]
    assert main([*args, "--top-k", "1", "--fills", "next_close", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["periods_per_year"] == 365.0
    assert main([*args, "--top-k", "1", "--fills", "next_close", "--periods-per-year", "300",
                 "--json"]) == 0  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert doc["metrics"]["periods_per_year"] == 300.0
    assert doc["assumptions"]["annualization"]["periods_per_year"] == 300.0
    assert main([*args, "--top-k", "1", "--fills", "next_close"]) == 0
    assert "annualization: annualized with 365 bars a year" in capsys.readouterr().out


def test_an_irregular_calendar_needs_a_factor(ws: Workspace, tmp_path: Path) -> None:
    steps = np.cumsum(np.tile([2, 11, 17, 40, 13, 60, 12], 12))  # median 13 days
    index = START + pd.to_timedelta(steps, unit="D")
    ws.data.import_file(_write(tmp_path / "odd.csv", index, _growing(index)), "odd")
    assert ws.data.info("odd").market.periods_per_year is None
    with pytest.raises(BacktestError, match="irregular") as err:
        run_backtest(ws, _hold("odd"), record=False)
    assert "periods_per_year" in str(err.value)
    result = run_backtest(ws, _hold("odd", periods_per_year=12), record=False)
    assert result.metrics["periods_per_year"] == 12.0


def test_periods_per_year_for_takes_the_calendar() -> None:
    assert periods_per_year_for("daily", "24/7") == 365.0
    assert periods_per_year_for("hourly", "24/7") == 8760.0
    assert periods_per_year_for("1h", "24x5") == 6240.0
    assert periods_per_year_for("1h", "sessions", 7) == 1764.0
    assert periods_per_year_for("1h") == 1638.0  # a 6.5-hour session when nothing is known
    with pytest.raises(BacktestError, match="calendar"):
        periods_per_year_for("daily", "lunar")


@pytest.mark.parametrize(
    ("ppy", "n", "expected"),
    [
        (252.0, 2000, (252, "12-month")),
        (252.0, 300, (126, "6-month")),
        (8760.0, 17520, (8760, "12-month")),
        (6240.0, 5000, (1560, "3-month")),
        (12.0, 100, (12, "12-month")),
        (1.0, 10, (2, "24-month")),
        (252.0, 3, (0, "")),
    ],
)
def test_rolling_windows_are_spans_of_time(ppy: float, n: int, expected: tuple) -> None:
    assert rolling_window(ppy, n) == expected


def test_tearsheet_labels_the_window_in_months(ws: Workspace) -> None:
    result = run_backtest(ws, _hold("crypto-hourly-noisy"), record=False)
    html = render_backtest_report(result)
    assert "Rolling 12-month Sharpe ratio (annualized)" in html
    assert "-bar window" not in html
    assert "8,760 bars per year" in html


def test_demo_statistics_take_the_dataset_factor() -> None:
    index = pd.date_range(START, END.normalize(), freq="D")
    prices = _growing(index)
    assert describe_prices(prices, 365.0)["cagr"] == pytest.approx(0.10, abs=1e-9)
    assert describe_prices(prices, 252.0)["cagr"] < 0.07  # the old equity default


def test_factor_analysis_annualizes_with_the_dataset_factor(ws: Workspace, tmp_path: Path) -> None:
    index = pd.date_range(START, END.normalize(), freq="D")
    rng = np.random.default_rng(7)
    frames = []
    for j in range(6):
        close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, len(index))))
        frames.append(pd.DataFrame({"timestamp": index.strftime("%Y-%m-%d"), "asset": f"C{j}",
                                    "close": close}))  # fmt: skip
    pd.concat(frames).to_csv(tmp_path / "coins.csv", index=False)
    ws.data.import_file(tmp_path / "coins.csv", "coins")
    report = analyze_dataset(ws.data, "$close / Ref($close, 5) - 1", "coins", known=[])
    factor = next(iter(report.reports.values()))
    assert factor.periods_per_year == 365.0
    ic = factor.ic_summary
    assert ic.ir_annualized == pytest.approx(ic.ir * math.sqrt(365.0))
    orth = factor.orthogonality
    assert orth is not None
    assert orth.periods_per_year == 365.0
    assert orth.alpha_annualized == pytest.approx(orth.alpha * 365.0)
