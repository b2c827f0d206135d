"""Backtesting: StrategySpec, portfolio rules, a vectorized simulator, an
event-driven engine over the execution package's orders and brokers, metrics,
a lookahead scan and tearsheets.

Public names load on first use (:func:`alphaloop.faces.load_public`); the
event engine's face is :mod:`alphaloop.backtest.event`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.backtest.lookahead import (
        DEFAULT_WARMUPS,
        ExpressionSignalFn,
        LookaheadFinding,
        LookaheadReport,
        SignalFn,
        expression_signal_fn,
        scan_lookahead,
        truncation_rows,
    )
    from alphaloop.backtest.metrics import (
        compute_metrics,
        drawdown_periods,
        drawdown_series,
        monthly_returns_table,
        periods_per_year_for,
        rolling_sharpe,
    )
    from alphaloop.backtest.portfolio import rebalance_rows, target_weights, trailing_volatility
    from alphaloop.backtest.runner import (
        BacktestResult,
        Engine,
        PreparedStrategy,
        align_benchmark,
        equal_weight_benchmark,
        model_start_row,
        prepare_strategy,
        run_prepared,
        select_universe,
        spec_end,
        target_signal_fn,
    )
    from alphaloop.backtest.spec import (
        Limits,
        PortfolioRule,
        Rebalance,
        Signal,
        Stops,
        StrategySpec,
        load_spec,
        quick_spec,
    )
    from alphaloop.backtest.tearsheet import MAX_PLOT_POINTS, TRADE_ROWS, render_backtest_report
    from alphaloop.backtest.vectorized import (
        SimulationResult,
        SweepResult,
        simulate,
        simulate_many,
        simulate_signals,
    )

_HOME: dict[str, str] = {
    "DEFAULT_WARMUPS": "alphaloop.backtest.lookahead",
    "ExpressionSignalFn": "alphaloop.backtest.lookahead",
    "LookaheadFinding": "alphaloop.backtest.lookahead",
    "LookaheadReport": "alphaloop.backtest.lookahead",
    "SignalFn": "alphaloop.backtest.lookahead",
    "expression_signal_fn": "alphaloop.backtest.lookahead",
    "scan_lookahead": "alphaloop.backtest.lookahead",
    "truncation_rows": "alphaloop.backtest.lookahead",
    "compute_metrics": "alphaloop.backtest.metrics",
    "drawdown_periods": "alphaloop.backtest.metrics",
    "drawdown_series": "alphaloop.backtest.metrics",
    "monthly_returns_table": "alphaloop.backtest.metrics",
    "periods_per_year_for": "alphaloop.backtest.metrics",
    "rolling_sharpe": "alphaloop.backtest.metrics",
    "rebalance_rows": "alphaloop.backtest.portfolio",
    "target_weights": "alphaloop.backtest.portfolio",
    "trailing_volatility": "alphaloop.backtest.portfolio",
    "BacktestResult": "alphaloop.backtest.runner",
    "Engine": "alphaloop.backtest.runner",
    "PreparedStrategy": "alphaloop.backtest.runner",
    "align_benchmark": "alphaloop.backtest.runner",
    "equal_weight_benchmark": "alphaloop.backtest.runner",
    "model_start_row": "alphaloop.backtest.runner",
    "prepare_strategy": "alphaloop.backtest.runner",
    "run_prepared": "alphaloop.backtest.runner",
    "select_universe": "alphaloop.backtest.runner",
    "spec_end": "alphaloop.backtest.runner",
    "target_signal_fn": "alphaloop.backtest.runner",
    "Limits": "alphaloop.backtest.spec",
    "PortfolioRule": "alphaloop.backtest.spec",
    "Rebalance": "alphaloop.backtest.spec",
    "Signal": "alphaloop.backtest.spec",
    "Stops": "alphaloop.backtest.spec",
    "StrategySpec": "alphaloop.backtest.spec",
    "load_spec": "alphaloop.backtest.spec",
    "quick_spec": "alphaloop.backtest.spec",
    "MAX_PLOT_POINTS": "alphaloop.backtest.tearsheet",
    "TRADE_ROWS": "alphaloop.backtest.tearsheet",
    "render_backtest_report": "alphaloop.backtest.tearsheet",
    "SimulationResult": "alphaloop.backtest.vectorized",
    "SweepResult": "alphaloop.backtest.vectorized",
    "simulate": "alphaloop.backtest.vectorized",
    "simulate_many": "alphaloop.backtest.vectorized",
    "simulate_signals": "alphaloop.backtest.vectorized",
}
"""Public name -> the module of this package that defines it."""

__all__ = [
    "DEFAULT_WARMUPS",
    "MAX_PLOT_POINTS",
    "TRADE_ROWS",
    "BacktestResult",
    "Engine",
    "ExpressionSignalFn",
    "Limits",
    "LookaheadFinding",
    "LookaheadReport",
    "PortfolioRule",
    "PreparedStrategy",
    "Rebalance",
    "Signal",
    "SignalFn",
    "SimulationResult",
    "Stops",
    "StrategySpec",
    "SweepResult",
    "align_benchmark",
    "compute_metrics",
    "drawdown_periods",
    "drawdown_series",
    "equal_weight_benchmark",
    "expression_signal_fn",
    "load_spec",
    "model_start_row",
    "monthly_returns_table",
    "periods_per_year_for",
    "prepare_strategy",
    "quick_spec",
    "rebalance_rows",
    "render_backtest_report",
    "rolling_sharpe",
    "run_prepared",
    "scan_lookahead",
    "select_universe",
    "simulate",
    "simulate_many",
    "simulate_signals",
    "spec_end",
    "target_signal_fn",
    "target_weights",
    "trailing_volatility",
    "truncation_rows",
]


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
