"""The lookahead scan of one research candidate, made cheap enough to run on every one.

The scan is :func:`alphaloop.backtest.lookahead.scan_lookahead` with the two
outputs the application's ``scan_spec`` checks, the signal and the target
weights, computed by :class:`CandidateScanFn`. What makes it fast:

- **Target weights are recomputed only where their inputs changed.** For the
  stateless portfolio methods (``top_k``, ``quantile_long_short``) the weights
  of a row are a function of that row's signal, prices, eligibility,
  volatility and rebalance flag only (:func:`~alphaloop.backtest.portfolio.
  target_weights`). On a cut panel the function recomputes the signal, finds
  the rows whose inputs differ from the full run's and recomputes the weights
  on those rows only, copying the full run's elsewhere: the result equals a
  recomputation on the whole cut panel, bit for bit, at a fraction of the
  cost (a clean signal changes no row). The ``threshold`` method carries state
  from row to row, so its weights are recomputed on the whole cut panel.
- **Truncation rows**: ``scan_points`` spread over the span (as the
  application's scan) plus up to ``decision_points`` of the spec's rebalance
  bars (every ``g``-th, see the lookahead module), instead of every rebalance
  bar. Rows between consecutive truncation rows are still compared, so a read
  of data ``h`` bars ahead on every bar (``Ref($close, -h)``, a centred
  window, a full-sample normalization) is caught at the first truncation row;
  a peek on isolated bars is caught when a truncation row lands in the ``h``
  bars before it (the report's ``coverage_horizon`` says how far apart they
  are).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alphaloop.backtest.book import sizing_warmup
from alphaloop.backtest.code_signal import CODE_SCAN_DECISION_POINTS
from alphaloop.backtest.composite import signal_models
from alphaloop.backtest.lookahead import LookaheadReport, scan_lookahead
from alphaloop.backtest.portfolio import target_weights, trailing_volatility
from alphaloop.backtest.runner import scan_decisions, target_signal_fn
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data import Panel
from alphaloop.execution import CostModel

__all__ = ["CandidateScanFn", "scan_candidate"]

_STATELESS = ("top_k", "quantile_long_short")


def _rows_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row: whether any value differs (NaN equal to NaN), exactly."""
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return ~same.all(axis=1)


class CandidateScanFn:
    """Signal and target weights of a spec on any cut of ``panel`` (a lookahead SignalFn).

    Parameters
    ----------
    spec : StrategySpec
    panel : Panel
        The whole panel the scan cuts.
    signal_of : callable
        The spec's signal on a panel, shape (time, asset).
    full_signal : ndarray, optional
        The signal on ``panel`` if already computed.
    """

    def __init__(
        self,
        spec: StrategySpec,
        panel: Panel,
        signal_of: Callable[[Panel], np.ndarray],
        full_signal: np.ndarray | None = None,
    ) -> None:
        self.spec = spec
        self.signal_of = signal_of
        self.index = panel.index
        self.close = np.asarray(panel["close"], dtype=np.float64)
        self.eligible = panel.membership & np.isfinite(self.close)
        self.rule = spec.portfolio
        self.vol = (
            trailing_volatility(self.close, self.rule.vol_window)
            if self.rule.weighting == "inverse_volatility"
            else None
        )
        self.signal = (
            np.asarray(signal_of(panel), dtype=np.float64)
            if full_signal is None
            else np.asarray(full_signal, dtype=np.float64)
        )
        self.rebalance = scan_decisions(spec, self.index)
        self.weights = self._weights(self.signal, 0, len(self.index), self.rebalance, self.vol)

    def _weights(
        self,
        signal: np.ndarray,
        start: int,
        stop: int,
        rebalance: np.ndarray,
        vol: np.ndarray | None,
    ) -> np.ndarray:
        return target_weights(
            signal,
            self.close[start:stop],
            self.eligible[start:stop],
            self.rule,
            self.spec.limits,
            rebalance,
            volatility=vol,
        )

    def __call__(self, panel: Panel) -> dict[str, np.ndarray]:
        start = int(self.index.searchsorted(panel.index[0]))
        stop = start + panel.n_times
        signal = np.asarray(self.signal_of(panel), dtype=np.float64)
        # scan decisions depend on the calendar only, plus the first bar of a panel
        rebalance = self.rebalance[start:stop].copy()
        rebalance[0] = True
        vol = None
        if self.vol is not None:
            # a prefix has the same trailing volatility; a cut start has its own warm-up
            vol = (
                self.vol[:stop]
                if start == 0
                else trailing_volatility(self.close[start:stop], self.rule.vol_window)
            )
        if self.rule.method not in _STATELESS:
            weights = self._weights(signal, start, stop, rebalance, vol)
            return {"signal": signal, "target_weights": weights}
        changed = _rows_differ(signal, self.signal[start:stop])
        changed |= rebalance != self.rebalance[start:stop]
        if vol is not None and start:
            changed |= _rows_differ(vol, self.vol[start:stop])
        weights = self.weights[start:stop].copy()
        if changed.any():
            fresh = self._weights(signal, start, stop, rebalance & changed, vol)
            weights[changed] = fresh[changed]
        return {"signal": signal, "target_weights": weights}


#: relative tolerance of the scan for signals that use model predictions (float32 features)
MODEL_RTOL = 1e-5


def scan_candidate(
    spec: StrategySpec,
    panel: Panel,
    signal_of: Callable[[Panel], np.ndarray | None],
    *,
    full_signal: np.ndarray | None,
    warmup: int,
    scan_points: int,
    decision_points: int,
    seed: int,
    periods_per_year: float = 252.0,
    costs: CostModel | None = None,
) -> LookaheadReport:
    """Scan a candidate's signal and target weights for lookahead on ``panel``.

    Settings follow the application's ``scan_spec``: the settle period after a
    warm-up cut is at least 252 bars and 11 times the signal's warm-up, capped
    at a third of the data; ``min_history`` is at least 252 bars and the
    warm-up plus one. Signals that use model predictions are compared with a
    relative tolerance of :data:`MODEL_RTOL` (their features are float32).

    A strategy template's book (its signal, and its target weights or quote
    plan) is built again on every cut panel, as in the backtest
    (:func:`~alphaloop.backtest.target_signal_fn`); its own warm-up
    (:meth:`~alphaloop.strategies.TemplateParams.warmup`: formation windows,
    exact sums that need no settling) is added to the settle period and the
    minimum history, as the application's scan does.

    Parameters
    ----------
    signal_of : callable
        The spec's own signal on a panel (None for a template that makes its own).
    full_signal : ndarray, optional
        ``signal_of`` on ``panel``, if already computed.
    warmup : int
        Bars of history the signal needs (its longest window).
    scan_points : int
        Truncation rows spread over the panel.
    decision_points : int
        Most rebalance bars that are truncation rows (0: none beyond the spread).
    seed : int
        Seeds the random part of the spread.
    periods_per_year : float
        Bars per year of the data (a template's volatility estimates).
    costs : CostModel, optional
        The cost model the rebalance filters of a template spec weigh trades
        with (default: the spec's, else the equities preset).
    """
    n = panel.n_times
    extra = max(spec.template.warmup() if spec.template is not None else 0, sizing_warmup(spec))
    # a template's windows are exact: the settle period covers them even on short data
    settle = max(252, min(11 * warmup + extra, n // 3), extra)
    min_history = min(max(252, warmup + extra + 1), max(1, n - scan_points - 2))
    decisions = scan_decisions(spec, panel.index)
    if decision_points <= 0:
        decisions = np.zeros(n, dtype=bool)
    fn: Callable[[Panel], dict[str, np.ndarray]]
    if spec.template is not None or spec.sizing is not None or spec.regime is not None:
        # sizing and regime steps run on the whole cut panel, as in the backtest
        fn = target_signal_fn(spec, signal_of, periods_per_year=periods_per_year, costs=costs)
    else:
        fn = CandidateScanFn(spec, panel, signal_of, full_signal)  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    if signal_models(spec):
        # model predictions come from float32 features: a re-run on a shorter panel may
        # round a feature differently (about 1e-7 relative); a peek moves values by far more
        kwargs["rtol"] = MODEL_RTOL
    if decision_points > 0:
        kwargs["max_decision_points"] = decision_points
        if spec.signal is not None and spec.signal.code is not None:
            # each re-run of a code signal starts a sandbox process
            kwargs["max_decision_points"] = min(decision_points, CODE_SCAN_DECISION_POINTS)
    return scan_lookahead(
        fn,
        panel,
        decisions=decisions,
        n_points=scan_points,
        settle=settle,
        min_history=min_history,
        seed=seed,
        **kwargs,
    )
