"""Spans: purged train/validation/test rows, and the sealed holdout out of reach."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.data.panel import SealedEnd
from alphaloop.errors import HoldoutError
from alphaloop.rl import EnvConfig, RLConfigError, TradingEnv, resolve_span, split_spans
from alphaloop.rl.features import market_features, running_normalize, running_normalize_py

from .conftest import ohlcv_panel


def test_spans_are_ordered_purged_and_disjoint(stocks: Panel) -> None:
    spans = split_spans(stocks.index, 0.15, 0.15, embargo=0.01)
    (t0, t1), (v0, v1), (s0, s1) = spans.train, spans.validation, spans.test
    assert t0 == 0
    assert s1 == len(stocks.index) - 1
    assert t1 < v0
    assert v1 < s0
    embargo = int(np.ceil(0.01 * (len(stocks.index) - 1) * 0.85))
    assert v0 - t1 >= embargo - 1
    assert s0 - v1 >= embargo - 1
    n = len(stocks.index)
    assert (s1 - s0) == pytest.approx(0.15 * n, abs=3)
    assert spans.dates("validation")[0] == stocks.index[v0]


def test_without_embargo_the_purge_alone_separates_spans() -> None:
    index = pd.date_range("2020-01-01", periods=101, freq="D", tz="UTC")
    spans = split_spans(index, 0.2, 0.2, embargo=0.0)
    # a decision's label ends at the next bar: the last training decision's fill row
    # is the bar before the first validation decision
    assert spans.train[1] == spans.validation[0] - 1
    assert spans.validation[1] == spans.test[0] - 1
    with pytest.raises(RLConfigError, match="too few"):
        split_spans(index[:5])


def test_named_and_explicit_spans(ohlcv: Panel) -> None:
    assert resolve_span(ohlcv, EnvConfig(span="all")) == (0, len(ohlcv.index) - 1)
    train = resolve_span(ohlcv, EnvConfig(span="train"))
    test = resolve_span(ohlcv, EnvConfig(span="test"))
    assert train[1] < test[0]
    rows = resolve_span(ohlcv, EnvConfig(span=("2012-03-01", "2012-06-29")))
    assert ohlcv.index[rows[0]] >= pd.Timestamp("2012-03-01", tz="UTC")
    assert resolve_span(ohlcv, EnvConfig(span=(10, 90))) == (10, 90)
    with pytest.raises(RLConfigError, match="outside the data"):
        resolve_span(ohlcv, EnvConfig(span=(10, 10_000)))
    with pytest.raises(RLConfigError, match="outside the data"):
        resolve_span(ohlcv, EnvConfig(span=("2011-01-01", "2012-06-29")))
    with pytest.raises(RLConfigError, match="empty"):
        resolve_span(ohlcv, EnvConfig(span="test", test_fraction=0.0))


def test_a_span_inside_the_sealed_holdout_raises(ohlcv: Panel) -> None:
    boundary = ohlcv.index[500]
    sealed = ohlcv.iloc(slice(0, 500)).with_sealed_end(
        SealedEnd("synthetic", boundary, ohlcv.index[499])
    )
    with pytest.raises(HoldoutError, match="sealed holdout"):
        TradingEnv(EnvConfig(span=("2012-01-10", f"{ohlcv.index[550]:%Y-%m-%d}")), sealed)
    with pytest.raises(HoldoutError, match="sealed holdout"):
        TradingEnv(EnvConfig(span=(f"{ohlcv.index[520]:%Y-%m-%d}", "2015-01-01")), sealed)
    env = TradingEnv(EnvConfig(span="test", episode_length=20), sealed)
    assert env.market.index[-1] < boundary


def test_environments_from_a_workspace_stop_before_its_holdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphaloop.app import Workspace

    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
    ws = Workspace(tmp_path / "ws", holdout_fraction=0.2)
    try:
        boundary = ws.data.holdout_boundary("sp500-stocks")
        cfg = EnvConfig(dataset="sp500-stocks", fills="next_close", span="test",
                        assets=("AAPL", "JNJ"), episode_length=50)  # fmt: skip
        env = TradingEnv(cfg, catalog=ws.data)
        assert env.market.index[-1] < boundary
        late = cfg.model_copy(update={"span": ("2010-01-04", "2022-12-28")})
        with pytest.raises(HoldoutError):
            TradingEnv(late, catalog=ws.data)
    finally:
        ws.close()


def test_normalization_is_causal_and_twins_agree(ohlcv: Panel) -> None:
    cfg = EnvConfig(features=["Std($close, 10) / $close"], returns=2, normalize="ewm")
    full, _names = market_features(ohlcv, cfg, len(ohlcv.index) - 1)
    cut, _ = market_features(ohlcv, cfg, 300)  # data after row 300 removed
    np.testing.assert_array_equal(full[:301], cut)
    x = np.random.default_rng(0).standard_normal((200, 3)).cumsum(axis=0)
    x[50, 1] = np.nan
    for method in (1, 2):
        a, b = np.empty_like(x), np.empty_like(x)
        running_normalize(x, method, 20.0, 5, 4.0, a)
        running_normalize_py(x, method, 20.0, 5, 4.0, b)
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
        assert np.isnan(a[:4]).all()
        assert np.isnan(a[50, 1])
        assert np.nanmax(np.abs(a)) <= 4.0
    # expanding: the value at t is standardised by the mean/std of rows 0..t
    a = np.empty_like(x)
    running_normalize(x, 1, 20.0, 5, 100.0, a)
    t = 30
    col = x[: t + 1, 0]
    assert a[t, 0] == pytest.approx((col[-1] - col.mean()) / col.std(), rel=1e-9)


def test_features_never_read_past_the_span(ohlcv: Panel) -> None:
    spy_panel = ohlcv_panel()
    env = TradingEnv(EnvConfig(span=(0, 400), episode_length=100), spy_panel)
    assert len(env.market.index) == 401
    assert env.market.features.shape[0] == 401
