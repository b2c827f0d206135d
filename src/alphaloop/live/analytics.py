"""Live analytics: P&L, exposures and attribution per strategy, agent and asset; daily reports.

Conventions
-----------
Books are held weights: ``weights[t, a]`` is the fraction of equity in asset ``a``
held over bar ``t + 1`` (decided at the close of ``t``, as every engine here fills at
the next bar). A bar's gross contribution of a book to asset ``a`` is
``weights[t - 1, a] * asset_return[t, a]``; summed over assets it is the book's gross
return of bar ``t``. Costs are not in asset returns: the difference between a
strategy's reported net return and its gross contribution is shown as ``costs``
(and whatever the simple model leaves out, e.g. intrabar stops).

For a portfolio of several strategies (or an ensemble of agents) with capital
shares ``allocation[t, s]``, strategy ``s`` contributes ``allocation[t - 1, s] *
net_return[t, s]`` to the portfolio's return of bar ``t``; the contributions add up
to the portfolio's return exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.errors import AlphaloopError

__all__ = [
    "AnalyticsError",
    "DailyReport",
    "asset_attribution",
    "daily_report",
    "exposures",
    "strategy_attribution",
]


class AnalyticsError(AlphaloopError):
    """Analytics were given inputs that do not line up (indexes, assets, values)."""


def _frame(x: pd.DataFrame, what: str) -> pd.DataFrame:
    if not isinstance(x, pd.DataFrame):
        raise AnalyticsError(f"{what} must be a DataFrame (bars x columns)")
    if not x.index.is_monotonic_increasing:
        raise AnalyticsError(f"{what} must be in time order")
    if np.isinf(x.to_numpy(dtype=float)).any():
        raise AnalyticsError(f"{what} holds infinite values")
    return x


def exposures(weights: pd.DataFrame) -> pd.DataFrame:
    """Per bar: ``gross`` (sum of absolute weights), ``net``, ``long``, ``short``
    (negative) and ``positions`` (assets with a non-zero weight)."""
    w = _frame(weights, "weights").fillna(0.0)
    return pd.DataFrame(
        {
            "gross": w.abs().sum(axis=1),
            "net": w.sum(axis=1),
            "long": w.clip(lower=0).sum(axis=1),
            "short": w.clip(upper=0).sum(axis=1),
            "positions": (w != 0).sum(axis=1),
        }
    )


def asset_attribution(weights: pd.DataFrame, asset_returns: pd.DataFrame) -> pd.DataFrame:
    """Gross contribution of each asset per bar (bars x assets), held weights lagged one bar."""
    w = _frame(weights, "weights")
    r = _frame(asset_returns, "asset_returns")
    missing = sorted(set(w.columns) - set(r.columns))
    if missing:
        raise AnalyticsError(f"asset_returns lacks assets the book holds: {missing[:5]}")
    held = w.reindex(r.index).ffill().fillna(0.0).shift(1).fillna(0.0)
    return held * r[w.columns].fillna(0.0)


def strategy_attribution(
    net_returns: pd.DataFrame, allocation: pd.DataFrame | Mapping[str, float]
) -> pd.DataFrame:
    """Each strategy's (or agent's) contribution to the portfolio's return per bar.

    Parameters
    ----------
    net_returns : DataFrame
        Bars x strategies, net simple returns (NaN: not running, counts as 0).
    allocation : DataFrame or mapping
        Capital shares per bar (bars x strategies, lagged one bar here) or fixed shares.

    Returns
    -------
    DataFrame
        Bars x strategies plus a ``total`` column equal to the portfolio's return.
    """
    r = _frame(net_returns, "net_returns").fillna(0.0)
    if isinstance(allocation, Mapping):
        unknown = sorted(set(allocation) - set(r.columns))
        if unknown:
            raise AnalyticsError(f"allocation names strategies without returns: {unknown}")
        a = pd.DataFrame({c: float(allocation.get(c, 0.0)) for c in r.columns}, index=r.index)
    else:
        a = _frame(allocation, "allocation").reindex(index=r.index, columns=r.columns)
        a = a.ffill().fillna(0.0).shift(1).fillna(0.0)
    out = a * r
    out["total"] = out.sum(axis=1)
    return out


@dataclass(frozen=True)
class DailyReport:
    """One day of the running system, ready to print or store.

    Attributes
    ----------
    day : pandas.Timestamp
    equity, pnl, day_return : float
        Equity at the day's last bar (currency), the day's P&L and return.
    by_strategy : dict of str to float
        Each strategy's contribution to the day's return.
    top_assets, bottom_assets : list of (asset, contribution)
        The day's three best and worst assets by gross contribution.
    exposure : dict
        ``gross``, ``net``, ``long``, ``short``, ``positions`` at the day's close.
    risk_mode : str or None
    notes : tuple of str
        Alerts and caveats of the day.
    """

    day: pd.Timestamp
    equity: float
    pnl: float
    day_return: float
    by_strategy: dict[str, float]
    top_assets: list[tuple[str, float]]
    bottom_assets: list[tuple[str, float]]
    exposure: dict[str, float]
    risk_mode: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``day`` as an ISO date)."""
        return {
            "day": self.day.date().isoformat(),
            "equity": self.equity,
            "pnl": self.pnl,
            "day_return": self.day_return,
            "by_strategy": dict(self.by_strategy),
            "top_assets": [list(x) for x in self.top_assets],
            "bottom_assets": [list(x) for x in self.bottom_assets],
            "exposure": dict(self.exposure),
            "risk_mode": self.risk_mode,
            "notes": list(self.notes),
        }

    def text(self) -> str:
        """A plain-text report of a few lines."""
        lines = [
            f"{self.day:%Y-%m-%d}  equity {self.equity:,.2f}  P&L {self.pnl:+,.2f} "
            f"({self.day_return:+.2%})" + (f"  mode {self.risk_mode}" if self.risk_mode else ""),
            "by strategy: "
            + (", ".join(f"{k} {v:+.2%}" for k, v in self.by_strategy.items()) or "-"),
            "best: " + (", ".join(f"{a} {v:+.2%}" for a, v in self.top_assets) or "-"),
            "worst: " + (", ".join(f"{a} {v:+.2%}" for a, v in self.bottom_assets) or "-"),
            f"exposure: gross {self.exposure['gross']:.2f}, net {self.exposure['net']:+.2f}, "
            f"{int(self.exposure['positions'])} positions",
        ]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def daily_report(
    day: Any,
    equity: pd.Series,
    weights: pd.DataFrame,
    asset_returns: pd.DataFrame,
    *,
    strategy_returns: pd.DataFrame | None = None,
    allocation: pd.DataFrame | Mapping[str, float] | None = None,
    risk_mode: str | None = None,
    notes: tuple[str, ...] = (),
) -> DailyReport:
    """The report of calendar day ``day`` (UTC) from the running system's records.

    ``equity`` is the account value per bar; ``weights`` the book held; the day's P&L
    is the change of equity from the last bar before the day to the day's last bar.
    Per-strategy figures need ``strategy_returns`` and ``allocation``.

    Raises
    ------
    AnalyticsError
        No bar on ``day``, or inputs that do not line up.
    """
    if not isinstance(equity, pd.Series) or equity.empty:
        raise AnalyticsError("equity must be a non-empty Series")
    ts = pd.Timestamp(day)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    start, end = ts.normalize(), ts.normalize() + pd.Timedelta(days=1)
    idx = pd.DatetimeIndex(equity.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    today = (idx >= start) & (idx < end)
    if not today.any():
        raise AnalyticsError(f"no bar on {start:%Y-%m-%d}")
    first = int(np.argmax(today))
    last = int(np.flatnonzero(today)[-1])
    before = float(equity.iloc[first - 1]) if first > 0 else float(equity.iloc[first])
    close = float(equity.iloc[last])
    pnl = close - before
    bars = equity.index[today]
    contrib = asset_attribution(weights, asset_returns).reindex(bars).fillna(0.0).sum()
    ranked = contrib[contrib != 0].sort_values()
    top = [(str(a), float(v)) for a, v in ranked.iloc[::-1].head(3).items() if v > 0]
    bottom = [(str(a), float(v)) for a, v in ranked.head(3).items() if v < 0]
    by_strategy: dict[str, float] = {}
    if strategy_returns is not None and allocation is not None:
        attr = strategy_attribution(strategy_returns, allocation).reindex(bars).fillna(0.0)
        growth = (1.0 + attr["total"]).prod() - 1.0
        by_strategy = {str(k): float(v) for k, v in attr.drop(columns="total").sum().items()}
        if abs(sum(by_strategy.values()) - growth) > 1e-3:
            notes = (*notes, "per-strategy figures are summed per bar; the day compounds")
    exp = exposures(weights).reindex(equity.index).ffill().fillna(0.0).iloc[last]
    return DailyReport(
        day=start,
        equity=close,
        pnl=pnl,
        day_return=pnl / before if before else float("nan"),
        by_strategy=by_strategy,
        top_assets=top,
        bottom_assets=bottom,
        exposure={k: float(v) for k, v in exp.items()},
        risk_mode=risk_mode,
        notes=tuple(notes),
    )
