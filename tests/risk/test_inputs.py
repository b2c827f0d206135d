"""Inputs: returns from a Panel, the public face, error fields."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop import risk
from alphaloop.data import Panel
from alphaloop.errors import AlphaloopError
from alphaloop.risk import RiskInputError, estimate_var, panel_returns


def test_panel_returns_are_simple_returns_without_the_first_bar() -> None:
    index = pd.bdate_range("2024-01-01", periods=4, tz="UTC")
    close = np.array([[10.0, 20.0], [11.0, 20.0], [9.9, np.nan], [9.9, 22.0]])
    panel = Panel(index, ["A", "B"], {"close": close})
    rets = panel_returns(panel)
    assert list(rets.index) == list(index[1:])
    assert rets["A"].to_numpy() == pytest.approx([0.1, -0.1, 0.0])
    assert rets["B"].iloc[0] == 0.0
    assert rets["B"].isna().sum() == 2  # a missing price leaves both returns around it missing
    with pytest.raises(RiskInputError, match="asset B"):
        estimate_var(rets, weights=[0.5, 0.5])
    est = estimate_var(rets["A"], confidence=0.5)
    assert est.var == pytest.approx(0.0)


def test_every_public_name_loads_and_errors_are_alphaloop_errors() -> None:
    for name in risk.__all__:
        assert getattr(risk, name) is not None
    assert issubclass(risk.RiskError, AlphaloopError)
    assert issubclass(risk.CovarianceError, risk.RiskInputError)
    with pytest.raises(AttributeError):
        _ = risk.not_a_name


def test_a_total_loss_over_a_horizon_is_refused() -> None:
    r = np.array([0.01, -1.0, 0.02, 0.01, 0.0])
    with pytest.raises(RiskInputError, match="100%"):
        estimate_var(r, horizon=2)
