"""The regime report of a dataset: the equal-weight index, the table, the seal, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace, regime_report
from alphaloop.app.risk_regimes import equal_weight_returns
from alphaloop.errors import DatasetNotFoundError
from alphaloop.risk import RiskError


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("regimes") / "ws")


def test_equal_weight_returns_by_hand() -> None:
    close = pd.DataFrame(
        {"a": [10.0, 11.0, 11.0, np.nan, 12.0], "b": [20.0, 19.0, 19.0, 19.0, 38.0]},
        index=pd.bdate_range("2020-01-01", periods=5, tz="UTC"),
    )
    members = np.ones(close.shape, dtype=bool)
    members[2, 1] = False  # b leaves on bar 2
    returns = equal_weight_returns(close, members)
    # bar 1: (10% - 5%) / 2; bar 2: a only (0%); bar 3: b only (0%, was not a member
    # the bar before); bar 4: b only (a had no price the bar before)
    np.testing.assert_allclose(returns.to_numpy(), [0.025, 0.0, 1.0])
    assert list(returns.index) == list(close.index[[1, 2, 4]])


def test_vol_report_on_the_bundled_stocks(ws: Workspace) -> None:
    report = regime_report(ws, "sp500-stocks", "vol")
    assert report.assets == 20
    assert list(report.table.index) == ["calm", "turbulent", "all"]
    assert report.current == report.labels.current
    assert report.as_of == report.labels.labels.index[-1]
    calm, turbulent = report.table.loc["calm"], report.table.loc["turbulent"]
    assert turbulent["annual_volatility"] > calm["annual_volatility"]
    assert any("survivor" in c for c in report.caveats)
    assert report.periods_per_year == 252.0
    doc = report.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["current"]["name"] == report.current_name
    assert [r["regime"] for r in doc["regimes"]] == ["calm", "turbulent", "all"]


def test_hidden_state_report_has_probabilities(ws: Workspace) -> None:
    report = regime_report(ws, "sp500-index", "markov", params={"refit_every": 1260})
    assert report.probabilities is not None
    assert sum(report.probabilities.values()) == pytest.approx(1.0)
    assert len(report.to_dict()["fits"]) > 1  # refitted on the past


def test_the_sealed_holdout_is_not_read(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    info = ws.data.configure_holdout("sp500-index", 0.3)
    report = regime_report(ws, "sp500-index", "trend")
    boundary = pd.Timestamp(info.to_dict()["boundary"])
    assert report.as_of < boundary
    assert any("sealed holdout" in c for c in report.caveats)


def test_errors(ws: Workspace) -> None:
    with pytest.raises(RiskError, match="method: unknown value 'garch'"):
        regime_report(ws, "sp500-index", "garch")
    with pytest.raises(DatasetNotFoundError):
        regime_report(ws, "no-such-data", "vol")
