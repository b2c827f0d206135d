"""A spec's book: the signal it trades on and its target weights, step by step.

1. :func:`build_book`: a template is built on the loaded panel (its own
   signal, and its weights or quotes); a spec without one trades on its own
   signal.
2. :func:`strategy_targets`: the template's weights, or the spec's portfolio
   rule on the signal.
3. :func:`size_and_gate`: the sizing (``sizing:``), then the regime gate
   (``regime:``), if set.
4. :func:`vol_target_overlay`: the volatility target (``overlay:``), if set.
5. :func:`rebalance_filter`: the drift band and the cost-aware filter
   (``rebalance.drift``, ``rebalance.cost_aware``), if set.

The backtest (:mod:`alphaloop.backtest.runner`) and the lookahead scan run
the same steps, so what is scanned is what is traded. Every step uses data
up to each row only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alphaloop.backtest.optimized import optimized_targets
from alphaloop.backtest.portfolio import rebalance_rows, target_weights
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import CostModel
from alphaloop.strategies import TemplateInputs, TemplateOutput
from alphaloop.strategies.overlay import apply_vol_target
from alphaloop.strategies.rebalancing import filter_trades

__all__ = [
    "build_book",
    "carried_book",
    "rebalance_filter",
    "size_and_gate",
    "sizing_warmup",
    "strategy_targets",
    "vol_target_overlay",
]


def build_book(
    spec: StrategySpec, panel: Panel, own_signal: np.ndarray | None, *, periods_per_year: float
) -> tuple[np.ndarray, TemplateOutput | None]:
    """The signal a spec trades on, and its template's output (None without a template).

    A spec without a template trades on its own signal. A template is built
    on every bar of ``panel`` (:meth:`~alphaloop.strategies.TemplateParams.build`)
    with the spec's rebalance schedule, limits and ``own_signal`` (for
    templates that read one); its signal is the one traded on.

    Raises
    ------
    BacktestError
        The spec has neither, or the template's output does not fit the panel.
    """
    template = spec.template
    if template is None:
        if own_signal is None:
            raise BacktestError("the spec has no signal to trade on")
        return own_signal, None
    close = np.asarray(panel["close"], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        eligible = panel.membership & np.isfinite(close) & (close > 0)
    out = template.build(
        TemplateInputs(
            panel=panel,
            eligible=eligible,
            rebalance=rebalance_rows(panel.index, spec.rebalance),
            signal=own_signal,
            max_weight=spec.limits.max_weight,
            max_leverage=spec.limits.max_leverage,
            allow_short=spec.limits.allow_short,
            periods_per_year=periods_per_year,
        )
    )
    shape = (panel.n_times, panel.n_assets)
    if out.kind != template.output_kind:
        raise BacktestError(
            f"template {template.template} returned a {out.kind} output; it declares "
            f"{template.output_kind}"
        )
    for name in ("signal", "weights"):
        values = getattr(out, name)
        if values is not None and np.shape(values) != shape:
            raise BacktestError(
                f"template {template.template} returned {name} of shape {np.shape(values)}; "
                f"the panel is {shape}"
            )
    if out.kind == "weights" and out.weights is None:
        raise BacktestError(f"template {template.template} returned no weights")
    return np.asarray(out.signal, dtype=np.float64), out


def strategy_targets(
    spec: StrategySpec,
    signal: np.ndarray,
    close: np.ndarray,
    eligible: np.ndarray,
    rebalance: np.ndarray,
    *,
    template: TemplateOutput | None = None,
    volatility: np.ndarray | None = None,
    history: np.ndarray | None = None,
    assets: tuple[str, ...] | None = None,
) -> np.ndarray:
    """Target weights of a spec on the rows given (all arrays cover the same bars).

    ``history`` (closes before the first row) and ``assets`` feed the
    ``optimize`` method's estimation windows and named constraints
    (:func:`~alphaloop.backtest.optimized.optimized_targets`).

    A template that builds weights gives them (``template.weights`` cut to
    these rows); otherwise the spec's portfolio rule turns ``signal`` into
    weights (:func:`~alphaloop.backtest.portfolio.target_weights`). NaN =
    no order for that asset on that row.
    """
    if template is not None and template.kind == "weights":
        assert template.weights is not None
        return np.array(template.weights, dtype=np.float64)
    if spec.portfolio.method == "optimize":
        return optimized_targets(
            signal,
            close,
            eligible,
            spec.portfolio,
            spec.limits,
            rebalance,
            history=history,
            assets=assets,
        ).weights
    return target_weights(
        signal,
        close,
        eligible,
        spec.portfolio,
        spec.limits,
        rebalance,
        volatility=volatility,
        exits=spec.exits if spec.exits.active else None,
    )


def rebalance_filter(
    spec: StrategySpec,
    weights: np.ndarray,
    panel: Panel,
    *,
    costs: CostModel,
    periods_per_year: float,
    first_row: int = 0,
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The spec's drift band and cost-aware filter on its target weights.

    ``weights`` cover rows ``first_row:`` of ``panel``; earlier rows feed the
    book's returns and the impact estimate only
    (:func:`~alphaloop.strategies.rebalancing.filter_trades`). ``costs`` is
    the model the simulation charges. Returns the weights unchanged and None
    when the spec sets neither ``rebalance.drift`` nor ``rebalance.cost_aware``.
    """
    rule = spec.rebalance
    if rule.drift is None and not rule.cost_aware:
        return weights, None
    close = np.asarray(panel["close"], dtype=np.float64)
    volume = np.asarray(panel["volume"], dtype=np.float64) if "volume" in panel else None
    padded = np.full(close.shape, np.nan)
    padded[first_row:] = weights
    out, stats = filter_trades(
        padded,
        close,
        volume,
        drift=rule.drift,
        cost_aware=rule.cost_aware,
        edge_window=rule.edge_window,
        costs=costs,
        capital=spec.capital,
        periods_per_year=periods_per_year,
        max_leverage=spec.limits.max_leverage,
    )
    return out[first_row:], stats


def sizing_warmup(spec: StrategySpec) -> int:
    """Bars of history the spec's sizing and regime rule read (0 without them)."""
    return max(
        spec.sizing.warmup() if spec.sizing is not None else 0,
        spec.regime.warmup() if spec.regime is not None else 0,
    )


def size_and_gate(
    spec: StrategySpec,
    weights: np.ndarray,
    panel: Panel,
    *,
    periods_per_year: float,
    first_row: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The spec's sizing, then its regime gate, on its target weights.

    ``weights`` cover rows ``first_row:`` of ``panel``; earlier rows feed the
    windows and the regime detector only
    (:func:`~alphaloop.backtest.sizing_steps.apply_sizing`,
    :func:`~alphaloop.backtest.sizing_steps.apply_regime`). Returns the
    weights unchanged and ``{}`` when the spec sets neither; otherwise the
    statistics under ``sizing`` and ``regime``.
    """
    if spec.sizing is None and spec.regime is None:
        return weights, {}
    from alphaloop.backtest.sizing_steps import (
        apply_regime,
        apply_sizing,
        market_regime_labels,
        regime_multipliers,
    )

    close = np.asarray(panel["close"], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        eligible = panel.membership & np.isfinite(close) & (close > 0)
    padded = np.full(close.shape, np.nan)
    padded[first_row:] = weights
    stats: dict[str, Any] = {}
    if spec.sizing is not None:
        ohlc = {
            name: np.asarray(panel[name], dtype=np.float64)
            for name in ("high", "low")
            if name in panel
        }
        padded, stats["sizing"] = apply_sizing(
            padded,
            close,
            eligible,
            spec.sizing,
            periods_per_year=periods_per_year,
            max_weight=spec.limits.max_weight,
            max_leverage=spec.limits.max_leverage,
            stop_loss=spec.stops.stop_loss,
            **ohlc,
        )
    if spec.regime is not None:
        labels = market_regime_labels(close, eligible, spec.regime, panel.index)
        mult = regime_multipliers(labels, spec.regime)
        padded, stats["regime"] = apply_regime(padded, mult)
        held = labels[first_row:]
        names = spec.regime.names
        stats["regime"]["bars_by_regime"] = {
            ("warm-up" if k < 0 else names[k]): int((held == k).sum())
            for k in sorted(set(held.tolist()))
        }
        stats["regime"]["current"] = (
            "warm-up" if not held.size or held[-1] < 0 else names[int(held[-1])]
        )
    return padded[first_row:], stats


def vol_target_overlay(
    spec: StrategySpec,
    weights: np.ndarray,
    panel: Panel,
    *,
    periods_per_year: float,
    first_row: int = 0,
) -> tuple[np.ndarray, dict[str, Any] | None]:
    """The spec's volatility-targeting overlay on its target weights.

    ``weights`` cover rows ``first_row:`` of ``panel``; earlier rows feed the
    volatility estimate only (:func:`~alphaloop.strategies.overlay.apply_vol_target`).
    Returns the weights unchanged and None when the spec has no ``overlay``.
    """
    if spec.overlay is None:
        return weights, None
    close = np.asarray(panel["close"], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        eligible = panel.membership & np.isfinite(close) & (close > 0)
    padded = np.full(close.shape, np.nan)
    padded[first_row:] = weights
    out, stats = apply_vol_target(
        padded,
        close,
        eligible,
        spec.overlay,
        periods_per_year=periods_per_year,
        max_leverage=spec.limits.max_leverage,
    )
    return out[first_row:], stats


def carried_book(weights: np.ndarray, start_row: int) -> np.ndarray:
    """A template's weights from ``start_row`` on, the first row holding the book it already has.

    A template that sets targets only when they change (a state machine) or
    on its own calendar decided its book at ``start_row`` earlier: each
    asset's last target at or before ``start_row`` fills the first row's NaN
    cells (NaN stays where the asset never had a target). Rows before
    ``start_row`` hold bars before the backtest only, so nothing is read
    from after it.
    """
    out = np.array(weights[start_row:], dtype=np.float64)
    if out.shape[0] == 0 or start_row == 0:
        return out
    head = np.asarray(weights[: start_row + 1], dtype=np.float64)
    seen = ~np.isnan(head)
    latest = head.shape[0] - 1 - np.argmax(seen[::-1], axis=0)
    last = np.where(seen.any(axis=0), head[latest, np.arange(head.shape[1])], np.nan)
    out[0] = np.where(np.isnan(out[0]), last, out[0])
    return out
