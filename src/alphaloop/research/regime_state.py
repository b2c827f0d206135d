"""The market's regime over a search span: what the strategy agent is told about it.

:func:`search_regimes` labels the equal-weight market of a panel with the
causal detectors a spec's ``regime:`` uses (volatility and trend, default
parameters; :func:`~alphaloop.backtest.sizing_steps.market_regime_labels`)
and summarises them: the regime of the last bar and the share of labelled
bars in each regime. The application passes the *search span* only (the
catalog stops before the sealed holdout), so nothing here can describe the
holdout; the result is stored with the session and shown to the LLM policy
(:func:`alphaloop.research.llm_prompt.research_prompt`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alphaloop.backtest.sizing_steps import market_regime_labels
from alphaloop.backtest.spec_sizing import RegimeRule
from alphaloop.data import Panel

__all__ = ["describe_regimes", "search_regimes"]

_RULES = {
    "volatility": RegimeRule(detector="volatility", allow=["calm", "turbulent"]),
    "trend": RegimeRule(detector="trend", allow=["down", "flat", "up"]),
}


def search_regimes(panel: Panel) -> dict[str, Any]:
    """Volatility and trend regimes of the panel's equal-weight market, as of its last bar.

    Returns
    -------
    dict
        ``as_of`` (the last bar, ISO date) and, per detector, ``current``
        (the last bar's regime, ``warm-up`` when none yet), ``since`` (the
        first bar of the current run of that regime) and ``shares`` (regime ->
        share of labelled bars, rounded to 3 decimals).
    """
    close = np.asarray(panel["close"], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        eligible = panel.membership & np.isfinite(close) & (close > 0)
    out: dict[str, Any] = {"as_of": panel.index[-1].date().isoformat()}
    for name, rule in _RULES.items():
        labels = market_regime_labels(close, eligible, rule, panel.index)
        known = labels[labels >= 0]
        last = int(labels[-1])
        since = None
        if last >= 0:
            change = np.flatnonzero(labels != last)
            since = panel.index[int(change[-1]) + 1 if change.size else 0].date().isoformat()
        out[name] = {
            "current": rule.names[last] if last >= 0 else "warm-up",
            "since": since,
            "shares": {
                n: round(float(np.mean(known == k)), 3) if known.size else 0.0
                for k, n in enumerate(rule.names)
            },
        }
    return out


def describe_regimes(regime: dict[str, Any] | None) -> list[str]:
    """Prompt lines for a :func:`search_regimes` summary (``- none computed`` when None)."""
    if not regime:
        return ["- none computed"]
    lines = []
    for name in ("volatility", "trend"):
        item = regime.get(name)
        if not item:
            continue
        shares = ", ".join(f"{k} {v:.0%}" for k, v in item["shares"].items())
        since = f" since {item['since']}" if item.get("since") else ""
        lines.append(
            f"- {name}: {item['current']}{since} at the end of the search span "
            f"({regime.get('as_of')}); bars by regime: {shares}"
        )
    return lines or ["- none computed"]
