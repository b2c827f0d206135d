"""Opportunity ranker: which symbols deserve the strategy agents' and the allocator's attention.

At a decision bar ``at`` the ranker scores every symbol of a :class:`~alphaloop.data.Panel`
from data up to and including that bar only (nothing after ``at`` is read), on five
components:

``trend``
    Strength of the trend: the absolute t-statistic of the least-squares slope of log
    close on time over the last ``lookback`` bars. Its sign is kept in ``direction``
    (+1 up, -1 down): a strong fall is as much an opportunity for a long-short book as
    a strong rise.
``calm``
    Volatility regime: one minus the percentile of the current volatility (standard
    deviation of the last ``vol_window`` log returns) within the symbol's own rolling
    volatility over the last ``vol_history`` bars. A symbol in a volatility spike scores
    low.
``liquidity``
    Log of the median traded value (close x volume) over ``lookback`` bars. Missing
    when the panel has no volume.
``signal``
    Recent signal quality given by the caller (e.g. the live IC or hit rate of the
    strategies trading the symbol), higher is better. Missing when not given.
``diversify``
    Minus the correlation of the symbol's log returns with the current book's returns
    over ``lookback`` bars. Missing when no book is given.

Each component is turned into a cross-sectional percentile in [0, 1] (ties share
their mean rank) over the eligible symbols; a missing component counts as 0.5
(neutral), so it neither helps nor hurts. ``score`` is the weighted mean of the
percentiles. Symbols that are not members at ``at`` or have fewer than ``min_history``
closes in the look-back are excluded, each with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.panel import Panel, as_utc
from alphaloop.errors import AlphaloopError

__all__ = ["COMPONENTS", "OpportunityError", "OpportunityRanker", "RankerConfig", "Ranking"]

COMPONENTS: tuple[str, ...] = ("trend", "calm", "liquidity", "signal", "diversify")


class OpportunityError(AlphaloopError):
    """The opportunity ranker was given bad input (a setting, a date, a symbol)."""


@dataclass(frozen=True)
class RankerConfig:
    """Settings of :class:`OpportunityRanker` (all windows in bars).

    Parameters
    ----------
    lookback : int, default 63
        Bars for the trend, liquidity and correlation components.
    vol_window : int, default 21
        Bars of log returns in one volatility reading.
    vol_history : int, default 252
        Bars of volatility readings the current one is ranked against.
    min_history : int, default 20
        Fewest valid closes in the look-back for a symbol to be ranked.
    weights : mapping of str to float
        Weight of each component in ``score``; non-negative, at least one positive.
    """

    lookback: int = 63
    vol_window: int = 21
    vol_history: int = 252
    min_history: int = 20
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "trend": 1.0,
            "calm": 0.5,
            "liquidity": 0.5,
            "signal": 1.0,
            "diversify": 0.5,
        }
    )

    def __post_init__(self) -> None:
        for name in ("lookback", "vol_window", "vol_history", "min_history"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 2:
                raise OpportunityError(
                    f"RankerConfig.{name} must be an integer >= 2, got {value!r}"
                )
        if self.min_history > self.lookback:
            raise OpportunityError(
                f"RankerConfig.min_history ({self.min_history}) exceeds lookback ({self.lookback})"
            )
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise OpportunityError(
                f"RankerConfig.weights has unknown components {unknown}",
                hint=f"components are {', '.join(COMPONENTS)}",
            )
        bad = {k: v for k, v in self.weights.items() if not np.isfinite(v) or v < 0}
        if bad:
            raise OpportunityError(f"RankerConfig.weights must be finite and >= 0, got {bad}")
        if not any(v > 0 for v in self.weights.values()):
            raise OpportunityError("RankerConfig.weights needs at least one positive weight")


@dataclass(frozen=True)
class Ranking:
    """The ranker's answer at one bar.

    Attributes
    ----------
    at : pandas.Timestamp
        The decision bar (UTC); only data up to and including it was read.
    table : pandas.DataFrame
        One row per ranked symbol, best first: the raw components, ``direction``,
        their percentiles (``<component>_pct``) and ``score`` in [0, 1].
    excluded : dict of str to str
        Symbols left out and why.
    """

    at: pd.Timestamp
    table: pd.DataFrame
    excluded: dict[str, str]

    def universe(self, n: int) -> list[str]:
        """The ``n`` best symbols, best first (fewer when fewer were ranked)."""
        if n < 1:
            raise OpportunityError(f"universe size must be >= 1, got {n}")
        return [str(s) for s in self.table.index[:n]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``at`` (ISO), ``ranking`` (list of rows), ``excluded``."""
        rows = []
        for symbol, row in self.table.iterrows():
            rows.append(
                {"symbol": str(symbol)}
                | {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
            )
        return {"at": self.at.isoformat(), "ranking": rows, "excluded": dict(self.excluded)}


class OpportunityRanker:
    """Scores symbols by trend, volatility regime, liquidity, signal quality and diversification.

    See the module docstring for each component. The ranker is stateless: the same
    panel, bar and inputs give the same ranking.
    """

    def __init__(self, config: RankerConfig | None = None) -> None:
        self.config = config or RankerConfig()

    def rank(
        self,
        panel: Panel,
        at: Any = None,
        *,
        signal_quality: Mapping[str, float] | None = None,
        book: Mapping[str, float] | None = None,
    ) -> Ranking:
        """Rank the panel's symbols at bar ``at`` (default: the last bar).

        Parameters
        ----------
        panel : Panel
            Needs a ``close`` field; ``volume`` enables the liquidity component.
        at : timestamp-like, optional
            The decision bar; the last bar at or before it is used.
        signal_quality : mapping of symbol to float, optional
            Recent signal quality per symbol (higher is better); symbols not in it
            count as neutral.
        book : mapping of symbol to float, optional
            Current book weights (fractions of equity, signed); enables ``diversify``.

        Raises
        ------
        OpportunityError
            No ``close`` field, ``at`` before the panel's first bar, unknown symbols in
            ``signal_quality`` or ``book``, non-finite inputs.
        """
        cfg = self.config
        if "close" not in panel:
            raise OpportunityError("the panel has no 'close' field; the ranker needs closes")
        if panel.n_times == 0:
            raise OpportunityError("the panel is empty")
        row = self._row(panel, at)
        assets = panel.assets
        _check_symbols("signal_quality", signal_quality, assets)
        _check_symbols("book", book, assets)

        span = max(cfg.lookback, cfg.vol_window + cfg.vol_history) + 1
        lo = max(0, row + 1 - span)
        close = panel.field("close")[lo : row + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = np.where(close > 0, np.log(close), np.nan)
        rets = np.diff(logp, axis=0)
        recent = logp[-cfg.lookback :]

        excluded: dict[str, str] = {}
        member = panel.membership[row]
        valid_counts = np.isfinite(recent).sum(axis=0)
        keep = []
        for j, asset in enumerate(assets):
            if not member[j]:
                excluded[asset] = "not a member at the decision bar"
            elif not np.isfinite(close[-1, j]):
                excluded[asset] = "no close at the decision bar"
            elif valid_counts[j] < cfg.min_history:
                excluded[asset] = (
                    f"{int(valid_counts[j])} closes in the last {cfg.lookback} bars "
                    f"(needs {cfg.min_history})"
                )
            else:
                keep.append(j)
        cols = np.asarray(keep, dtype=np.intp)
        names = [assets[j] for j in cols]

        slope_t = _trend_t(recent[:, cols])
        raw = pd.DataFrame(index=pd.Index(names, name="symbol"))
        raw["trend"] = np.abs(slope_t)
        raw["direction"] = np.sign(slope_t)
        raw["calm"] = _calm(rets[:, cols], cfg.vol_window, cfg.vol_history)
        raw["liquidity"] = _liquidity(panel, lo, row, cols, cfg.lookback)
        raw["signal"] = [
            float(signal_quality[n]) if signal_quality and n in signal_quality else np.nan
            for n in names
        ]
        raw["diversify"] = _diversify(rets[-cfg.lookback :], cols, assets, book)

        total = np.zeros(len(names))
        weight_sum = 0.0
        for comp in COMPONENTS:
            pct = _percentile(raw[comp].to_numpy())
            raw[f"{comp}_pct"] = pct
            w = float(cfg.weights.get(comp, 0.0))
            total += w * pct
            weight_sum += w
        raw["score"] = total / weight_sum if names else np.array([], dtype=float)
        # best first; ties broken by symbol so the order never depends on input order
        raw = raw.assign(_sym=raw.index).sort_values(
            ["score", "_sym"], ascending=[False, True], kind="mergesort"
        )
        table = raw.drop(columns="_sym")
        return Ranking(at=panel.index[row], table=table, excluded=excluded)

    @staticmethod
    def _row(panel: Panel, at: Any) -> int:
        if at is None:
            return panel.n_times - 1
        try:
            ts = as_utc(at)
        except (TypeError, ValueError) as exc:
            raise OpportunityError(f"decision bar {at!r} is not a date") from exc
        row = int(panel.index.searchsorted(ts, side="right")) - 1
        if row < 0:
            raise OpportunityError(
                f"decision bar {ts.isoformat()} is before the panel's first bar "
                f"{panel.index[0].isoformat()}"
            )
        return row


def _check_symbols(what: str, values: Mapping[str, float] | None, assets: tuple[str, ...]) -> None:
    if not values:
        return
    unknown = sorted(set(values) - set(assets))
    if unknown:
        raise OpportunityError(f"{what} names symbols not in the panel: {unknown[:5]}")
    bad = sorted(k for k, v in values.items() if not np.isfinite(float(v)))
    if bad:
        raise OpportunityError(f"{what} has non-finite values for {bad[:5]}")


def _trend_t(logp: np.ndarray) -> np.ndarray:
    """t-statistic of the OLS slope of each column on time, NaN-aware (n x k -> k)."""
    n, k = logp.shape
    out = np.full(k, np.nan)
    t = np.arange(n, dtype=np.float64)
    for j in range(k):
        ok = np.isfinite(logp[:, j])
        m = int(ok.sum())
        if m < 3:
            continue
        x, y = t[ok], logp[ok, j]
        xc = x - x.mean()
        sxx = float(xc @ xc)
        beta = float(xc @ (y - y.mean())) / sxx
        resid = y - y.mean() - beta * xc
        s2 = float(resid @ resid) / (m - 2)
        out[j] = beta / np.sqrt(s2 / sxx) if s2 > 0 else np.sign(beta) * np.inf
    # a perfectly straight line has an infinite t: cap so percentiles stay ordered
    return np.clip(out, -1e6, 1e6)


def _calm(rets: np.ndarray, window: int, history: int) -> np.ndarray:
    """1 - percentile of the current rolling volatility within its own history."""
    frame = pd.DataFrame(rets)
    vol = frame.rolling(window, min_periods=max(2, window // 2)).std().to_numpy()
    hist = vol[-history:]
    current = hist[-1]
    out = np.full(rets.shape[1], np.nan)
    for j in range(rets.shape[1]):
        h = hist[:, j]
        h = h[np.isfinite(h)]
        if h.size < 2 or not np.isfinite(current[j]):
            continue
        out[j] = 1.0 - float((h < current[j]).sum() + 0.5 * (h == current[j]).sum()) / h.size
    return out


def _liquidity(panel: Panel, lo: int, row: int, cols: np.ndarray, lookback: int) -> np.ndarray:
    if "volume" not in panel:
        return np.full(len(cols), np.nan)
    close = panel.field("close")[lo : row + 1][-lookback:, cols]
    volume = panel.field("volume")[lo : row + 1][-lookback:, cols]
    value = close * volume
    value = np.where(np.isfinite(value) & (value > 0), value, np.nan)
    out = np.full(len(cols), np.nan)
    for j in range(len(cols)):
        v = value[:, j]
        v = v[np.isfinite(v)]
        if v.size:
            out[j] = float(np.log(np.median(v)))
    return out


def _diversify(
    rets: np.ndarray, cols: np.ndarray, assets: tuple[str, ...], book: Mapping[str, float] | None
) -> np.ndarray:
    out = np.full(len(cols), np.nan)
    if not book:
        return out
    w = np.zeros(len(assets))
    for name, weight in book.items():
        w[assets.index(name)] = float(weight)
    if not np.any(w):
        return out
    book_ret = np.nansum(rets * w, axis=1)
    for i, j in enumerate(cols):
        r = rets[:, j]
        ok = np.isfinite(r)
        if ok.sum() < 3:
            continue
        a, b = r[ok], book_ret[ok]
        if a.std() == 0 or b.std() == 0:
            continue
        out[i] = -float(np.corrcoef(a, b)[0, 1])
    return out


def _percentile(values: np.ndarray) -> np.ndarray:
    """Cross-sectional percentile in [0, 1] (mean rank for ties); NaN -> 0.5."""
    out = np.full(values.shape, 0.5)
    ok = np.isfinite(values)
    m = int(ok.sum())
    if m >= 2:
        ranks = pd.Series(values[ok]).rank(method="average").to_numpy()
        out[ok] = (ranks - 1.0) / (m - 1.0)
    return out
