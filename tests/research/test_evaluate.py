"""Evaluating candidates: metrics and folds, the lookahead scan on every candidate, failures."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.runner import equal_weight_benchmark, prepare_strategy, run_prepared
from alphaloop.data import Panel
from alphaloop.research.evaluate import (
    EvalContext,
    EvaluationProtocol,
    evaluate_candidate,
    fold_bounds,
    signal_of,
)
from alphaloop.research.scan import CandidateScanFn

from .synthetic import Predictor, make_info, make_panel, spec


@pytest.fixture(scope="module")
def ctx() -> EvalContext:
    panel = make_panel()
    info = make_info(panel)
    return EvalContext(panel, info, EvaluationProtocol(data_hash=info.content_hash), Predictor())


def test_protocol_key_is_16_hex_and_changes_with_any_field() -> None:
    a = EvaluationProtocol(data_hash="abc")
    assert len(a.key()) == 16
    assert int(a.key(), 16) >= 0
    assert a.key() == EvaluationProtocol(data_hash="abc").key()
    assert a.key() != EvaluationProtocol(data_hash="abc", folds=4).key()
    assert a.key() != EvaluationProtocol(data_hash="abd").key()


def test_fold_bounds_cover_the_bars_in_order() -> None:
    bounds = fold_bounds(103, 5)
    assert bounds[0][0] == 0
    assert bounds[-1][1] == 103
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert [b - a for a, b in bounds] == [21, 21, 21, 20, 20]


def test_metrics_equal_a_plain_backtest_and_folds_split_its_returns(ctx: EvalContext) -> None:
    s = spec({"expr": "$edge"})
    res = evaluate_candidate(ctx, s)
    assert res.status == "ok", res.reason
    prep = prepare_strategy(s, ctx.info, ctx.panel, signal_of(ctx, s, ctx.panel))
    bench, label = equal_weight_benchmark(prep)
    plain = run_prepared(prep, "vectorized", bench, label)
    assert res.metrics["sharpe"] == pytest.approx(plain.metrics["sharpe_ratio"], rel=1e-12)
    assert res.metrics["n_round_trips"] == plain.metrics["n_round_trips"]
    r = plain.simulation.returns.to_numpy()
    assert res.returns is not None
    assert res.returns.dtype == np.float32
    assert res.returns.shape == (ctx.panel.n_times,)
    np.testing.assert_array_equal(res.returns[prep.start_row :], r.astype(np.float32))
    assert np.isnan(res.returns[: prep.start_row]).all()
    assert len(res.folds) == 5
    assert sum(f["n_obs"] for f in res.folds) == r.size
    first = res.folds[0]
    block = r[: first["n_obs"]]
    assert first["sharpe"] == pytest.approx(block.mean() / block.std(ddof=1) * np.sqrt(252))
    assert first["is_sharpe"] is None
    assert res.folds[1]["is_sharpe"] is not None
    assert res.metrics["sharpe"] > 1.5  # the planted edge
    assert res.lookahead["clean"] is True
    assert res.lookahead["checked"] >= 20
    assert set(res.seconds) >= {"signal", "scan", "backtest", "total"}


def test_a_model_that_reads_the_next_bar_is_flagged_by_the_scan(ctx: EvalContext) -> None:
    res = evaluate_candidate(ctx, spec({"model": "peek/v1"}))
    assert res.status == "ok"
    assert res.lookahead["clean"] is False
    assert "signal" in res.lookahead["offending"]
    assert res.lookahead["findings"][0]["kind"] == "truncation"


def test_an_expression_reading_the_future_is_refused_before_running(ctx: EvalContext) -> None:
    res = evaluate_candidate(ctx, spec({"expr": "Ref($close, -1) / $close"}))
    assert res.status == "failed"
    assert res.refused
    assert "ExpressionError" in (res.reason or "")
    assert "future" in (res.reason or "")


def test_a_crashing_candidate_fails_with_its_reason_and_counts(ctx: EvalContext) -> None:
    res = evaluate_candidate(ctx, spec({"model": "crash/v1"}))
    assert res.status == "failed"
    assert not res.refused
    assert res.reason == "RuntimeError: the model's feature pipeline broke"
    assert res.returns is None
    assert "total" in res.seconds


def test_refusals_are_not_trials(ctx: EvalContext) -> None:
    too_many = evaluate_candidate(ctx, spec({"expr": "$edge"}, k=25))
    assert too_many.status == "failed"
    assert too_many.refused
    assert "portfolio.k" in too_many.reason
    missing = evaluate_candidate(ctx, spec({"expr": "$volume"}))
    assert missing.refused
    assert "unknown field" in (missing.reason or "")
    no_model = EvalContext(ctx.panel, ctx.info, ctx.protocol, None)
    assert evaluate_candidate(no_model, spec({"model": "edge/v1"})).refused


def test_blow_up_to_non_finite_returns_fails(ctx: EvalContext) -> None:
    close = np.array(ctx.panel["close"], dtype=np.float64)
    close[900:, :] = np.inf
    bad = Panel(ctx.panel.index, ctx.panel.assets, {**_fields(ctx.panel), "close": close})
    res = evaluate_candidate(EvalContext(bad, ctx.info, ctx.protocol), spec({"expr": "$edge"}))
    assert res.status == "failed"
    assert not res.refused
    assert res.reason


def test_evaluation_is_deterministic(ctx: EvalContext) -> None:
    s = spec({"expr": "Mean($noise1, 5)"}, rebalance="weekly")
    a, b = evaluate_candidate(ctx, s), evaluate_candidate(ctx, s)
    assert a.metrics == b.metrics
    assert a.folds == b.folds
    assert a.lookahead == b.lookahead
    assert a.returns is not None
    assert b.returns is not None
    assert a.returns.tobytes() == b.returns.tobytes()


@pytest.mark.parametrize("method", ["top_k", "quantile_long_short", "threshold"])
@pytest.mark.parametrize("weighting", ["equal", "inverse_volatility"])
def test_scan_weights_equal_a_full_recomputation_on_cuts(
    ctx: EvalContext, method: str, weighting: str
) -> None:
    """Recomputing weights only where inputs changed gives the whole-panel recomputation."""
    from alphaloop.backtest.runner import target_signal_fn

    portfolio = {"method": method, "weighting": weighting}
    portfolio |= {"k": 5} if method == "top_k" else {}
    portfolio |= {"entry_long": 0.5, "exit_long": 0.0} if method == "threshold" else {}
    limits = {"allow_short": True} if method == "quantile_long_short" else {}
    s = spec({"model": "peek/v1"}).replace(portfolio=portfolio, limits=limits)
    s = s.replace(rebalance={"frequency": "weekly"})

    def sig(p: Panel) -> np.ndarray:
        return signal_of(ctx, s, p)

    fn = CandidateScanFn(s, ctx.panel, sig)
    reference = target_signal_fn(s, sig)
    for cut in (ctx.panel.iloc(slice(0, 700)), ctx.panel.iloc(slice(63, None))):
        ours, theirs = fn(cut), reference(cut)
        np.testing.assert_array_equal(ours["target_weights"], theirs["target_weights"])


def _fields(panel: Panel) -> dict[str, np.ndarray]:
    return {f: np.asarray(panel[f]) for f in panel.field_names}


@pytest.mark.parametrize("expr", ["$edge", "-$edge", "$noise5", "Mean($close, 10) / $close"])
def test_regime_share_equals_regime_performance(ctx: EvalContext, expr: str) -> None:
    """The evaluation's fast regime share is regime_performance's, on the same market."""
    from alphaloop.research.evaluate import _market
    from alphaloop.validation import regime_performance

    s = spec({"expr": expr}, rebalance="weekly")
    res = evaluate_candidate(ctx, s)
    assert res.returns is not None
    live = np.isfinite(res.returns)
    index = ctx.panel.index[live]
    returns = pd.Series(res.returns[live].astype(np.float64), index=index)
    report = regime_performance(returns, _market(ctx.panel), periods_per_year=252.0)
    assert res.metrics["regimes_evaluated"] == report.n_evaluated
    np.testing.assert_equal(res.metrics["regime_share"], report.share_acceptable)


def test_candidates_trade_contracts_where_instruments_are_stored(ctx: EvalContext) -> None:
    from dataclasses import replace
    from datetime import date

    from alphaloop.data.assets import Instrument, contract_terms
    from alphaloop.data.fx import apply_contract_terms

    asset = ctx.panel.assets[0]
    future = Instrument(
        symbol=asset, asset_class="future", currency="USD", multiplier=20, expiry=date(2030, 1, 1)
    )
    terms = contract_terms(ctx.panel.assets, {asset: future})
    traded = apply_contract_terms(ctx.panel, terms, base_currency="USD")
    with_terms = replace(ctx, traded=traded, instruments={asset: future})
    s = spec({"expr": "$edge"})
    res = evaluate_candidate(with_terms, s)
    assert res.status == "ok", res.reason
    prep = prepare_strategy(s, ctx.info, traded, signal_of(ctx, s, ctx.panel))
    prep = replace(prep, lots=terms.lots)
    bench, label = equal_weight_benchmark(prep)
    plain = run_prepared(prep, "vectorized", bench, label)
    assert res.metrics["sharpe"] == pytest.approx(plain.metrics["sharpe_ratio"], rel=1e-12)
    # whole contracts of the future: the result differs from fractional shares
    assert res.metrics["sharpe"] != evaluate_candidate(ctx, s).metrics["sharpe"]
    trades = plain.simulation.trades
    held = trades[trades["asset"] == asset]
    assert len(held) > 0
    np.testing.assert_allclose(held["shares"], np.round(held["shares"]))


def test_candidates_of_futures_pay_the_futures_preset(ctx: EvalContext) -> None:
    from dataclasses import replace
    from datetime import date

    from alphaloop.backtest.instrument_costs import instrument_costs
    from alphaloop.data.assets import Instrument, contract_terms
    from alphaloop.data.fx import apply_contract_terms

    futures = {
        a: Instrument(symbol=a, asset_class="future", currency="USD", multiplier=20,
                      tick_size=0.5, expiry=date(2030, 1, 1))
        for a in ctx.panel.assets
    }
    terms = contract_terms(ctx.panel.assets, futures)
    traded = apply_contract_terms(ctx.panel, terms, base_currency="USD")
    costs = instrument_costs(ctx.panel, traded, futures)
    assert costs is not None
    assert costs[0].half_spread_per_unit == 0.5 * 0.5 * 20  # half a tick x multiplier
    s = spec({"expr": "$edge"})
    res = evaluate_candidate(replace(ctx, traded=traded, instruments=futures), s)
    assert res.status == "ok", res.reason
    prep = prepare_strategy(s, ctx.info, traded, signal_of(ctx, s, ctx.panel))
    prep = replace(prep, lots=terms.lots, instrument_costs=costs)
    bench, label = equal_weight_benchmark(prep)
    charged = run_prepared(prep, "vectorized", bench, label)
    assert charged.assumptions["costs"]["preset"] == "futures"
    assert res.metrics["sharpe"] == pytest.approx(charged.metrics["sharpe_ratio"], rel=1e-12)
    # the dataset's own preset would charge otherwise
    plain = run_prepared(replace(prep, instrument_costs=None), "vectorized", bench, label)
    assert plain.metrics["sharpe_ratio"] != charged.metrics["sharpe_ratio"]
