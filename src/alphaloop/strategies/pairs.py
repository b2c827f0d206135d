"""Pairs trading: cointegrated pairs chosen on a trailing window, traded on z-score bands.

Every ``trade_period`` bars (a *formation date* ``f``) the template screens
all assets on the trailing ``formation`` bars ending at ``f`` (rows
``f - formation + 1 .. f``, nothing later) with
:func:`~alphaloop.strategies.cointegration.screen_pairs`: return
correlation, Engle-Granger or Johansen cointegration, p-values adjusted for
the number of pairs. Pairs whose spread's half-life is outside
``[min_half_life, max_half_life]`` are dropped; the best remaining pairs,
no asset in two pairs, up to ``max_pairs``, are traded from ``f`` until the
next formation date, when the book is rebuilt (pairs not selected again
are closed).

The spread of a pair (y, x) is ``log y - beta log x``. Its z-score:

- ``hedge="ols"``: beta and the intercept are fitted on the formation
  window and fixed while trading; z uses the formation window's mean and
  standard deviation of the spread, or (``zscore_window``) those of the
  trailing ``zscore_window`` bars up to and including the bar.
- ``hedge="kalman"``: beta and the intercept follow a random walk observed
  through ``log y = beta (log x - c) + intercept + noise`` (``c`` the mean
  of ``log x`` over the formation window; noise variance
  ``kalman_obs_var``, by default the formation OLS residual variance; each
  state component's variance grows by ``kalman_delta / (1 - kalman_delta)``
  times it per bar); the filter starts diffuse at the first bar of the
  formation window and is updated with each bar up to ``t``. z is the
  filter's standardized one-step prediction error at ``t`` (the forecast
  uses bars before ``t`` only): with a small delta, the spread's distance
  from a slow moving average of itself.

Bands, decided at each bar's close: open when ``|z| >= entry`` (short the
spread when z is high, long when low), close when it is back inside
``exit`` (``|z| <= exit`` or beyond it on the other side), stop when it
diverges to ``|z| >= stop`` (the pair then rests until the next formation),
close after ``max_hold`` bars (re-entry needs ``|z|`` back below
``entry`` first). A pair also closes when one of its prices is missing.

Legs: ``dollar`` (equal and opposite weights) or ``beta`` (the ``x`` leg
is beta times the ``y`` leg, beta fixed at entry). Each pair's gross weight
is ``min(gross, max_leverage) / max_pairs``, split across its legs, each
leg capped at ``max_weight`` (both legs scaled together).

Formation dates are anchored to the calendar, not to the first loaded bar,
so they do not move when more history is loaded: on daily data the
formation dates are the first bars of each block of ``trade_period``
weekdays counted from 1970-01-05; on other frequencies, of each block of
``trade_period`` median bar steps since the epoch. The first formation is
the first such date with ``formation`` bars behind it, so the first value
comes after at most ``formation + trade_period`` bars (:meth:`warmup`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaloop.errors import BacktestError, SpecError
from alphaloop.strategies import cointegration
from alphaloop.strategies.base import OutputKind, TemplateInputs, TemplateOutput, TemplateParams
from alphaloop.strategies.cointegration import CointMethod, Correction, PairTest
from alphaloop.strategies.spreads import band_states, emit_changes, formation_rows, kalman_hedge

__all__ = ["PairsTrading"]

_HEDGE_NOTES = {
    "ols": "fitted on the formation window, fixed while trading",
    "kalman": "filtered with the bars up to each bar",
}


class PairsTrading(TemplateParams):
    """Pairs trading on cointegrated spreads (see the module notes).

    Parameters
    ----------
    formation : int
        Bars in the trailing window pairs are selected and fitted on.
    trade_period : int
        Bars (weekdays on daily data) between formation dates.
    method : {"engle_granger", "johansen"}
        Cointegration test.
    min_corr : float
        Least correlation of one-bar log returns for a pair to be tested.
    top_n : int, optional
        Test only pairs among the ``top_n`` most correlated partners of one asset.
    alpha : float
        Level of the adjusted p-value.
    correction : {"bh", "holm", "bonferroni", "none"}
        Multiple-testing adjustment over every pair of assets with a full window.
    adf_lags : int
        Lagged differences in the test regression.
    max_pairs : int
        Pairs traded at once.
    min_half_life, max_half_life : float
        Bars; pairs whose spread's half-life is outside are dropped.
    hedge : {"ols", "kalman"}
    kalman_delta : float
        Kalman state noise per bar, relative to the observation noise (0 < delta < 1).
    kalman_obs_var : float, optional
        Kalman observation variance (log units squared); default the
        formation OLS residual variance.
    zscore_window : int, optional
        Bars of the rolling mean and standard deviation of the spread (OLS);
        default the formation window's.
    entry, exit, stop : float
        |z| bands (standard deviations): exit < entry < stop.
    max_hold : int, optional
        Bars a position may stay open.
    legs : {"dollar", "beta"}
    gross : float
        Sum of |weights| (fraction of equity) with ``max_pairs`` pairs open.
    """

    template: Literal["pairs"] = "pairs"
    formation: int = Field(252, ge=30, le=5000)
    trade_period: int = Field(126, ge=1, le=5000)
    method: CointMethod = "engle_granger"
    min_corr: float = Field(0.5, ge=-1.0, le=1.0)
    top_n: int | None = Field(None, ge=1, le=1000)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    correction: Correction = "bh"
    adf_lags: int = Field(1, ge=0, le=20)
    max_pairs: int = Field(5, ge=1, le=200)
    min_half_life: float = Field(1.0, ge=0.0)
    max_half_life: float = Field(126.0, gt=0.0)
    hedge: Literal["ols", "kalman"] = "ols"
    kalman_delta: float = Field(1e-4, gt=0.0, lt=1.0)
    kalman_obs_var: float | None = Field(None, gt=0.0)
    zscore_window: int | None = Field(None, ge=5, le=5000)
    entry: float = Field(2.0, gt=0.0)
    exit: float = Field(0.5, ge=0.0)
    stop: float = Field(4.0, gt=0.0)
    max_hold: int | None = Field(63, ge=1)
    legs: Literal["dollar", "beta"] = "dollar"
    gross: float = Field(1.0, gt=0.0, le=10.0)

    TITLE: ClassVar[str] = "Pairs trading"
    SUMMARY: ClassVar[str] = (
        "select cointegrated pairs on a trailing formation window (correlation screen, "
        "Engle-Granger or Johansen, p-values adjusted for the number of pairs), then trade "
        "each spread's z-score between entry, exit and stop bands"
    )
    OUTPUT: ClassVar[OutputKind] = "weights"
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "a spread that was stationary over the formation window stays mean-reverting for "
        "the next trade period",
        "both legs can be traded at the next bar's fill, and the short leg can be borrowed "
        "(the cost model's borrow fee applies; hard-to-borrow names cost more)",
        "log-price spreads: a beta-weighted book is neutral in log returns, not in dollars",
        "every asset pair is a candidate: the universe holds economically related assets, "
        "or the multiple-testing adjustment has many pairs to pay for",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "pair selection on the full sample: pairs picked with hindsight look cointegrated "
        "in the test span by construction; here every formation uses only the trailing "
        "formation window ending at its date",
        "multiple testing: among the 124,750 pairs of 500 random walks thousands pass a 5% "
        "test (3.6% in the benchmark); p-values are adjusted (Benjamini-Hochberg by default) "
        "over every pair the screen looked at",
        "look-ahead in hedge ratios: an OLS beta fitted on the whole sample makes any spread "
        "look stationary; the OLS beta is fixed at the formation date and the Kalman beta at "
        "t uses bars up to t",
        "two legs pay costs twice, and the short leg pays borrow; small spreads with short "
        "half-lives can be eaten by costs, so compare results net of costs",
        "cointegration breaks (mergers, index changes); the stop band and the maximum "
        "holding period limit the damage but do not prevent it",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "formation": (126, 189, 252, 378, 504),
        "trade_period": (21, 63, 126, 252),
        "entry": (1.5, 2.0, 2.5, 3.0),
        "exit": (0.0, 0.25, 0.5, 1.0),
        "stop": (3.0, 4.0, 5.0),
        "max_hold": (21, 42, 63, 126),
        "max_pairs": (1, 3, 5, 10, 20),
        "min_corr": (0.3, 0.5, 0.7, 0.8),
    }

    @model_validator(mode="after")
    def _consistent(self) -> PairsTrading:
        if not self.exit < self.entry < self.stop:
            raise ValueError(
                f"bands must satisfy exit < entry < stop; got exit={self.exit}, "
                f"entry={self.entry}, stop={self.stop}"
            )
        if self.min_half_life > self.max_half_life:
            raise ValueError(
                f"min_half_life ({self.min_half_life}) is above "
                f"max_half_life ({self.max_half_life})"
            )
        if self.zscore_window is not None and self.zscore_window > self.formation:
            raise ValueError(
                f"zscore_window ({self.zscore_window}) must not exceed formation ({self.formation})"
            )
        if self.formation < self.adf_lags + 20:
            raise ValueError(
                f"formation ({self.formation}) is too short for adf_lags={self.adf_lags}"
            )
        return self

    @property
    def shorts(self) -> bool:
        return True

    def warmup(self) -> int:
        return self.formation + self.trade_period

    def spec_defaults(self) -> dict[str, Any]:
        return {
            "rebalance": {"frequency": "daily"},
            "limits": {"allow_short": True, "max_leverage": 2.0, "max_weight": 0.25},
        }

    # -------------------------------------------------------------------- build
    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        if not inputs.allow_short:
            raise SpecError(
                "the pairs template sells one leg of every pair short, but the spec does "
                "not allow shorts",
                hint="set limits.allow_short: true",
            )
        panel = inputs.panel
        close = np.asarray(panel["close"], dtype=np.float64)
        n_times, n_assets = close.shape
        if n_assets < 2:
            raise BacktestError(
                f"pairs trading needs at least 2 assets; the panel has {n_assets}",
                hint="choose a dataset or universe with more assets",
            )
        ok = np.asarray(inputs.eligible, dtype=bool) & np.isfinite(close) & (close > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            logp = np.where(ok, np.log(np.where(ok, close, 1.0)), np.nan)
        rows = formation_rows(panel.index, panel.frequency, self.formation, self.trade_period)
        target = np.zeros((n_times, n_assets))
        signal = np.full((n_times, n_assets), np.nan)
        if rows.size:
            first = int(rows[0])
            signal[first:] = np.where(ok[first:], 0.0, np.nan)
        per_pair = min(self.gross, inputs.max_leverage) / self.max_pairs
        formations: list[dict[str, Any]] = []
        counts = {"entries": 0, "exits": 0, "stops": 0, "timeouts": 0, "missing": 0}
        ends = np.append(rows[1:], n_times)[: rows.size]
        for f, end in zip(rows.tolist(), ends.tolist(), strict=True):
            start = f - self.formation + 1
            screen = cointegration.screen_pairs(
                logp[start : f + 1],
                method=self.method,
                min_corr=self.min_corr,
                top_n=self.top_n,
                alpha=self.alpha,
                correction=self.correction,
                adf_lags=self.adf_lags,
            )
            chosen, dropped = self._choose(screen.selected)
            formations.append(_formation_record(panel, f, screen, chosen, dropped))
            for pair in chosen:
                z, beta = self._zscore(logp, pair, start, f, end)
                state, beta_at = band_states(
                    z, beta, self.entry, self.exit, self.stop, self.max_hold or 0,
                    self.legs == "beta", counts,
                )  # fmt: skip
                wy, wx = self._leg_weights(state, beta_at, per_pair, inputs.max_weight)
                target[f:end, pair.y] = wy
                target[f:end, pair.x] = wx
                signal[f:end, pair.y] = np.where(np.isfinite(z), -z, signal[f:end, pair.y])
                signal[f:end, pair.x] = np.where(np.isfinite(z), z, signal[f:end, pair.x])
        weights = emit_changes(target, rows)
        diagnostics = {
            "formations": formations,
            "method": self.method,
            "correction": self.correction,
            "alpha": self.alpha,
            "hedge": self.hedge,
            "legs": self.legs,
            **counts,
        }
        notes = (
            f"pairs re-selected every {self.trade_period} bars from the trailing "
            f"{self.formation} bars only ({len(rows)} formation dates)",
            f"{self.method} p-values adjusted by {self.correction} over every pair of assets "
            f"with a full formation window; selected at adjusted p <= {self.alpha}",
            f"hedge ratio: {self.hedge} ({_HEDGE_NOTES[self.hedge]})",
            "both legs pay trading costs; the short leg pays the cost model's borrow fee",
        )
        return TemplateOutput(
            kind="weights", signal=signal, weights=weights, diagnostics=diagnostics, notes=notes
        )

    def _choose(self, selected: list[PairTest]) -> tuple[list[PairTest], int]:
        """Pairs within the half-life range, best first, no asset twice, at most max_pairs."""
        used: set[int] = set()
        chosen: list[PairTest] = []
        dropped = 0
        for pair in selected:
            if not self.min_half_life <= pair.half_life <= self.max_half_life:
                dropped += 1
                continue
            if pair.y in used or pair.x in used or len(chosen) >= self.max_pairs:
                continue
            used.update((pair.y, pair.x))
            chosen.append(pair)
        return chosen, dropped

    def _zscore(
        self, logp: np.ndarray, pair: PairTest, start: int, f: int, end: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """z-score and hedge ratio of the pair's spread on rows ``f .. end - 1``."""
        y, x = logp[:, pair.y], logp[:, pair.x]
        if self.hedge == "kalman":
            resid = y[start : f + 1] - pair.hedge_ratio * x[start : f + 1] - pair.intercept
            obs_var = self.kalman_obs_var or float(np.var(resid))
            # x centred on its formation mean: the intercept is the spread's level there,
            # and it and the slope are not nearly collinear in the filter
            centre = float(x[start : f + 1].mean())
            beta, _, z = kalman_hedge(
                y[start:end], x[start:end] - centre, self.kalman_delta, max(obs_var, 1e-12)
            )
            return z[f - start :], beta[f - start :]
        spread = y - pair.hedge_ratio * x
        beta = np.full(end - f, pair.hedge_ratio)
        if self.zscore_window is None:
            window = spread[start : f + 1]
            mean, sd = float(window.mean()), float(window.std())
            with np.errstate(invalid="ignore", divide="ignore"):
                return (spread[f:end] - mean) / sd, beta
        w = self.zscore_window
        s = pd.Series(spread[f - w + 1 : end])
        roll = s.rolling(w, min_periods=w)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = ((s - roll.mean()) / roll.std(ddof=0)).to_numpy()[w - 1 :]
        return z, beta

    def _leg_weights(
        self, state: np.ndarray, beta: np.ndarray, per_pair: float, max_weight: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(y weights, x weights) for a state path (+1 long spread, -1 short, 0 flat)."""
        if self.legs == "beta":
            b = np.where(state != 0, beta, 0.0)
            wy = state * per_pair / (1.0 + np.abs(b))
            wx = -state * per_pair * b / (1.0 + np.abs(b))
        else:
            wy = state * per_pair / 2.0
            wx = -wy
        big = np.maximum(np.abs(wy), np.abs(wx))
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(big > max_weight, max_weight / big, 1.0)
        return wy * scale + 0.0, wx * scale + 0.0


def _formation_record(
    panel: Any, f: int, screen: cointegration.PairScreen, chosen: list[PairTest], dropped: int
) -> dict[str, Any]:
    assets = panel.assets

    def pair_dict(p: PairTest) -> dict[str, Any]:
        d = p.to_dict()
        d["y"], d["x"] = assets[p.y], assets[p.x]
        return d

    return {
        "date": panel.index[f].isoformat(),
        "n_assets": screen.n_assets,
        "n_pairs": screen.n_pairs,
        "n_tested": screen.n_tested,
        "n_adjusted_over": screen.n_adjusted_over,
        "n_significant": len(screen.selected),
        "n_dropped_half_life": dropped,
        "pairs": [pair_dict(p) for p in chosen],
    }
