"""PCA statistical arbitrage: trade mean-reverting residuals of a rolling factor model.

In the spirit of Avellaneda and Lee (2010), *Statistical arbitrage in the US
equities market*. About every ``refit`` bars (on dates fixed by the
calendar, see :func:`refit_rows`) the template takes the trailing
``window`` bars of simple returns of the assets with a full record in that
window, standardizes them and diagonalizes their correlation matrix; the top
``n_factors`` eigenvectors, divided by each asset's volatility, are the
eigenportfolios, whose returns are the factors. On every bar each asset's
returns over the trailing ``ou_window`` bars are regressed (with an
intercept) on the factor returns; the cumulative residual ``X`` is fitted as
an Ornstein-Uhlenbeck process through its AR(1) regression
``X[n+1] = a + b X[n] + zeta``:

- ``kappa = -ln(b) * periods_per_year`` (mean-reversion speed, per year),
  half-life ``ln(2) / -ln(b)`` bars;
- ``m = a / (1 - b)`` (equilibrium level),
  ``sigma_eq = sqrt(var(zeta) / (1 - b**2))`` (its equilibrium deviation);
- s-score ``s = (X_t - m) / sigma_eq``, with ``m`` centred on the
  cross-sectional mean of ``m`` by default (the paper's modified score: the
  regression's intercept makes ``X_t = 0`` and the residual means sum to
  about zero across assets).

Only assets whose half-life is below ``max_half_life`` bars open positions.
A state machine per asset opens a short when ``s > s_entry``, a long when
``s < -s_entry``, closes a short when ``s < s_exit_short`` and a long when
``s > -s_exit_long``. The half-life filter gates entries only; a position
is closed early when its asset loses its OU fit (missing data, ``b``
outside (0, 1)) or leaves the PCA universe at a refit. On every bar where
some state changes (and at every refit date with a position open) the book
is rebuilt: equal
gross per open position, plus a hedge in the eigenportfolios that sets the
book's regression beta to each kept factor to zero at that bar, then scaled
so ``sum |w| <= gross`` and every ``|w| <= max_weight`` (scaling keeps it
factor-neutral). Between those bars the template places no orders (NaN
rows): positions drift with prices.

Everything at bar ``t`` uses returns up to ``t``: loadings come from the
last refit date at or before ``t``, betas and OU parameters from the
``ou_window`` bars ending at ``t``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from numba import njit
from pydantic import Field, model_validator

from alphaloop.data.panel import infer_frequency
from alphaloop.errors import BacktestError
from alphaloop.strategies.base import TemplateInputs, TemplateOutput, TemplateParams

__all__ = ["PcaStatArb", "bar_numbers", "min_assets", "refit_rows"]

#: Fewest assets with a full window, beyond twice the number of factors, for a refit.
MIN_SPARE_ASSETS = 2


def min_assets(n_factors: int) -> int:
    """Fewest assets with a full PCA window a refit needs: ``2 * n_factors + 2``."""
    return 2 * n_factors + MIN_SPARE_ASSETS


class PcaStatArb(TemplateParams):
    """PCA statistical arbitrage: OU s-scores of factor-model residuals, factor-neutral book.

    Parameters
    ----------
    window : int
        Bars of returns in each PCA (correlation) estimate (252 = a year of days).
    n_factors : int
        Eigenportfolios kept (a fixed count, not a variance share; the share
        they explain is reported per refit date).
    refit : int
        Bars between PCA refits (21 = monthly on daily bars); the first is at
        bar ``window``, later ones on calendar-fixed dates (:func:`refit_rows`).
    ou_window : int
        Bars of returns in each factor regression and OU fit (60 in the paper).
    max_half_life : float
        Bars; an asset trades only while its residual's half-life
        ``ln 2 / -ln b`` is below it (the paper's ``kappa > 252/30`` per year
        is a half-life under ~21 days).
    s_entry : float
        Open a short above ``+s_entry``, a long below ``-s_entry`` (s-score units).
    s_exit_short : float
        Close a short when the s-score falls below it.
    s_exit_long : float
        Close a long when the s-score rises above ``-s_exit_long``.
    center : bool
        Centre each ``m`` on the cross-sectional mean of ``m`` (the paper's
        modified s-score).
    gross : float
        Target sum of |weights| of the book (fraction of equity); capped at
        the spec's ``max_leverage``.
    """

    template: Literal["pca_stat_arb"] = "pca_stat_arb"
    window: int = Field(252, ge=20, le=5000)
    n_factors: int = Field(5, ge=1, le=100)
    refit: int = Field(21, ge=1, le=1000)
    ou_window: int = Field(60, ge=20, le=1000)
    max_half_life: float = Field(21.0, gt=0, le=500)
    s_entry: float = Field(1.25, gt=0, le=10)
    s_exit_short: float = Field(0.75, ge=-10, le=10)
    s_exit_long: float = Field(0.5, ge=-10, le=10)
    center: bool = True
    gross: float = Field(2.0, gt=0, le=10)

    TITLE: ClassVar[str] = "PCA statistical arbitrage"
    SUMMARY: ClassVar[str] = (
        "regress each asset on rolling PCA eigenportfolios, fit the cumulative residual as "
        "an Ornstein-Uhlenbeck process, fade large s-scores in a factor-neutral book"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "a few eigenportfolios explain the common moves; what is left mean-reverts",
        "a wide universe: PCA of n assets needs n well above 2 * n_factors",
        "the OU fit on ou_window bars is stable over the next bars (parameters drift)",
        "daily rebalancing at the spec's costs; short selling at the cost model's borrow rate",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "fitting the PCA on the full sample builds tomorrow's factors into today's "
        "residuals; here loadings come from the trailing window at each refit date only",
        "survivorship: a universe of today's survivors has no residual that blew up and "
        "delisted; bundled sp500-stocks carries that caveat into every result",
        "costs of daily turnover: residual reversion is small per trade and the hedge "
        "legs trade too; judge the net result, never the gross",
        "too few assets for PCA: with n close to n_factors the residuals are mostly noise "
        "or nothing; a refit needs 2 * n_factors + 2 assets with a full window",
        "a 60-bar AR(1) fit finds fast mean reversion in random walks (half-lives near 5 "
        "bars): the half-life filter alone is not a test; the validation gate decides",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "window": (126, 252, 504),
        "n_factors": (1, 3, 5, 10, 15),
        "ou_window": (40, 60, 90),
        "max_half_life": (5.0, 10.0, 21.0),
        "s_entry": (1.0, 1.25, 1.5, 2.0),
        "s_exit_short": (0.25, 0.5, 0.75),
        "s_exit_long": (0.25, 0.5, 0.75),
    }

    @model_validator(mode="after")
    def _consistent(self) -> PcaStatArb:
        if self.ou_window > self.window:
            raise ValueError(f"ou_window ({self.ou_window}) must not exceed window ({self.window})")
        if self.window <= 2 * self.n_factors:
            raise ValueError(
                f"window ({self.window}) must exceed 2 * n_factors ({2 * self.n_factors}) "
                "for a stable correlation matrix"
            )
        if self.max_half_life > self.ou_window / 2:
            raise ValueError(
                f"max_half_life ({self.max_half_life}) must be at most ou_window / 2 "
                f"({self.ou_window / 2}): a {self.ou_window}-bar fit cannot see slower reversion"
            )
        if self.s_exit_short >= self.s_entry or self.s_exit_long >= self.s_entry:
            raise ValueError(
                f"s_exit_short ({self.s_exit_short}) and s_exit_long ({self.s_exit_long}) "
                f"must be below s_entry ({self.s_entry})"
            )
        return self

    @property
    def shorts(self) -> bool:
        return True

    def warmup(self) -> int:
        """Bars after which a run on less history agrees with the full run.

        The PCA window, plus up to ``refit`` bars until the first refit date
        both runs share, plus ``ou_window`` bars for positions held at that
        date in the longer run to close (the state machine remembers them).
        The first s-score comes after ``window`` bars.
        """
        return self.window + self.refit + self.ou_window

    def spec_defaults(self) -> dict[str, Any]:
        return {
            "rebalance": {"frequency": "daily"},
            "limits": {"allow_short": True, "max_leverage": 2.0, "max_weight": 0.25},
        }

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        close = np.asarray(inputs.panel["close"], dtype=np.float64)
        n_times, n_assets = close.shape
        self._check_data(n_times, n_assets)
        ok = np.asarray(inputs.eligible, dtype=bool) & np.isfinite(close) & (close > 0)
        rets = np.full(close.shape, np.nan)
        both = ok[1:] & ok[:-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            rets[1:] = np.where(both, close[1:] / np.where(both, close[:-1], 1.0) - 1.0, np.nan)

        score = np.full(close.shape, np.nan)
        weights = np.full(close.shape, np.nan)
        priced = np.isfinite(close) & (close > 0)
        gross = min(self.gross, inputs.max_leverage)
        state = np.zeros(n_assets, dtype=np.int8)  # held into each block
        refits: list[dict[str, Any]] = []
        dates = inputs.panel.index
        ppy = float(inputs.periods_per_year)
        starts = refit_rows(dates, self.window, self.refit)
        for start, stop in itertools.pairwise(np.append(starts, n_times)):
            fit, reg, block_score, may_enter, entry = self._fit_block(rets, ok, start, stop, ppy)
            entry = {"date": dates[start].isoformat(), **entry}
            refits.append(entry)
            score[start:stop] = block_score
            states = _run_states(
                block_score, may_enter, state, self.s_entry, self.s_exit_short, self.s_exit_long
            )
            before = np.vstack([state[None, :], states[:-1]])
            decide = (states != before).any(axis=1)
            decide[0] |= (states[0] != 0).any()  # a refit re-hedges an open book
            rows = np.flatnonzero(decide)
            if rows.size:
                bars = start + rows
                weights[bars] = np.where(priced[bars], 0.0, np.nan)
                if fit is not None and reg is not None:
                    book = _neutral_books(
                        states[rows][:, fit.assets],
                        reg.betas[rows],
                        reg.valid[rows],
                        fit.loadings,
                        gross,
                        inputs.max_weight,
                    )
                    held = book != 0
                    sub = weights[bars][:, fit.assets]
                    weights[bars[:, None], fit.assets[None, :]] = np.where(held, book, sub)
            state = states[-1]

        notes = [
            f"PCA of the trailing {self.window}-bar correlation matrix every {self.refit} bars, "
            f"{self.n_factors} eigenportfolios kept; residual OU fits on {self.ou_window} bars",
            "books are factor-neutral (regression beta to each kept factor = 0) on the bars "
            "they are rebuilt; between them positions drift",
        ]
        if gross < self.gross:
            notes.append(f"gross {self.gross} capped at the spec's max_leverage {gross}")
        diagnostics = {
            "refits": refits,
            "decision_bars": int(np.isfinite(weights).any(axis=1).sum()),
            "min_assets": min_assets(self.n_factors),
        }
        return TemplateOutput(
            kind="weights",
            signal=-score,
            weights=weights,
            diagnostics=diagnostics,
            notes=tuple(notes),
        )

    def _fit_block(
        self, rets: np.ndarray, ok: np.ndarray, start: int, stop: int, ppy: float
    ) -> tuple[_Fit | None, _Regression | None, np.ndarray, np.ndarray, dict[str, Any]]:
        """The factor model of the refit at ``start`` and its s-scores on bars ``start..stop-1``.

        Returns the fit and its regressions (None when too few assets have a
        full window), the s-scores and the entry mask (bar, asset) of the
        block, and the refit's diagnostics.
        """
        fit = _pca(rets, ok[start], start, self.window, self.n_factors)
        score = np.full((stop - start, rets.shape[1]), np.nan)
        may_enter = np.zeros(score.shape, dtype=bool)
        if fit is None:
            entry = {
                "assets": int(np.sum(_full_window(rets, ok[start], start, self.window))),
                "factors": 0,
                "variance_explained": None,
                "tradable": 0,
                "median_half_life": None,
                "median_kappa": None,
            }
            return None, None, score, may_enter, entry
        reg = _regress(rets, fit, np.arange(start, stop), self.ou_window)
        s, half_life = _ou_scores(reg.resid, reg.valid, self.center)
        ok_trade = np.isfinite(s) & (half_life < self.max_half_life)
        score[:, fit.assets] = s
        may_enter[:, fit.assets] = ok_trade
        fitted = half_life[0][np.isfinite(half_life[0])]
        median = float(np.median(fitted)) if fitted.size else None
        entry = {
            "assets": len(fit.assets),
            "factors": self.n_factors,
            "variance_explained": round(fit.explained, 6),
            "tradable": int(ok_trade[0].sum()),
            "median_half_life": None if median is None else round(median, 4),
            "median_kappa": None if median is None else round(math.log(2) / median * ppy, 4),
        }
        return fit, reg, score, may_enter, entry

    def _check_data(self, n_times: int, n_assets: int) -> None:
        need = min_assets(self.n_factors)
        if n_assets < need:
            raise BacktestError(
                f"pca_stat_arb with n_factors={self.n_factors} needs at least {need} assets; "
                f"the panel has {n_assets}",
                hint="use a wider universe or fewer factors (n_factors)",
            )
        if n_times <= self.window:
            raise BacktestError(
                f"pca_stat_arb needs more than window={self.window} bars for its first PCA; "
                f"the panel has {n_times}",
                hint="load more history (an earlier start) or shorten window",
            )


# -- refit schedule ------------------------------------------------------------------


def bar_numbers(index: pd.DatetimeIndex) -> np.ndarray:
    """A count of nominal bars since 1970 per timestamp, fixed by the calendar alone.

    Daily bars count weekdays (every day when the calendar trades at
    weekends), weekly bars weeks, monthly bars months, quarterly quarters,
    annual years, intraday bars steps of the inferred size. It does not
    depend on the first loaded row, so a refit schedule built on it survives
    loading more or less history. An irregular calendar counts rows.
    """
    freq = infer_frequency(index)
    naive = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
    days = naive.values.astype("datetime64[D]")
    if freq == "daily":
        if (naive.day_of_week >= 5).any():
            return days.astype(np.int64)
        return np.busday_count(np.datetime64("1970-01-05"), days)
    if freq == "weekly":
        return days.astype(np.int64) // 7
    if freq in ("monthly", "quarterly", "annual"):
        months = naive.year.to_numpy() * 12 + naive.month.to_numpy() - 1
        return months // {"monthly": 1, "quarterly": 3, "annual": 12}[freq]
    if freq == "irregular":
        return np.arange(len(index))
    step = int(np.median(np.diff(naive.values.astype(np.int64))))
    return naive.values.astype(np.int64) // max(step, 1)


def refit_rows(index: pd.DatetimeIndex, window: int, refit: int) -> np.ndarray:
    """Rows of the PCA refits: row ``window``, then each row entering a new ``refit`` bucket.

    Buckets are ``bar_numbers(index) // refit``: about every ``refit`` bars,
    on dates that do not move when history is added or removed at the start.
    """
    if len(index) <= window:
        return np.zeros(0, dtype=np.int64)
    bucket = bar_numbers(index) // refit
    later = window + 1 + np.flatnonzero(bucket[window + 1 :] != bucket[window:-1])
    return np.concatenate([[window], later]).astype(np.int64)


# -- factor model --------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    """One refit date's factor model.

    Attributes
    ----------
    assets : ndarray of int
        Columns with a full return record in the PCA window (and eligible at the refit bar).
    loadings : ndarray, shape (n_factors, n_assets_kept)
        Eigenportfolio weights: eigenvector entries over each asset's return
        volatility in the window, so factor returns are ``returns @ loadings.T``.
    explained : float
        Share of the correlation matrix's trace the kept eigenvalues explain.
    """

    assets: np.ndarray
    loadings: np.ndarray
    explained: float


@dataclass(frozen=True)
class _Regression:
    """Factor regressions on some bars: betas (bar, factor, asset), residuals, validity."""

    betas: np.ndarray
    resid: np.ndarray
    valid: np.ndarray


def _full_window(rets: np.ndarray, ok_now: np.ndarray, t: int, window: int) -> np.ndarray:
    """Columns with finite returns on each of the ``window`` bars ending at ``t``."""
    block = rets[t - window + 1 : t + 1]
    return ok_now & np.isfinite(block).all(axis=0)


def _pca(rets: np.ndarray, ok_now: np.ndarray, t: int, window: int, n_factors: int) -> _Fit | None:
    """Eigenportfolios from the correlation of the ``window`` returns ending at ``t``."""
    full = _full_window(rets, ok_now, t, window)
    block = rets[t - window + 1 : t + 1][:, full]
    sd = block.std(axis=0, ddof=1) if block.shape[1] else np.zeros(0)
    keep = sd > 0
    cols = np.flatnonzero(full)[keep]
    if cols.size < min_assets(n_factors):
        return None
    block, sd = block[:, keep], sd[keep]
    z = (block - block.mean(axis=0)) / sd
    corr = z.T @ z / (window - 1)
    values, vectors = np.linalg.eigh(corr)
    top = np.argsort(values)[::-1][:n_factors]
    loadings = vectors[:, top].T / sd
    explained = float(values[top].sum() / np.trace(corr))
    return _Fit(cols, np.ascontiguousarray(loadings), explained)


def _regress(rets: np.ndarray, fit: _Fit, bars: np.ndarray, ou_window: int) -> _Regression:
    """OLS of each asset's returns on an intercept and the factor returns, per bar.

    For bar ``t`` the sample is the ``ou_window`` bars ending at ``t``. Factor
    returns count a missing asset return as zero; an asset with a missing
    return in the sample has no fit on that bar (``valid`` False).
    """
    sub = rets[:, fit.assets]
    rows = bars[:, None] - ou_window + 1 + np.arange(ou_window)
    y = sub[rows]  # (bar, ou_window, asset)
    valid = np.isfinite(y).all(axis=1)
    y = np.nan_to_num(y, nan=0.0)
    first, last = int(rows.min()), int(rows.max())
    factors = np.nan_to_num(sub[first : last + 1], nan=0.0) @ fit.loadings.T
    design = np.concatenate(
        [np.ones((*rows.shape, 1)), factors[rows - first]], axis=2
    )  # (bar, ou_window, 1 + factor)
    design_t = design.transpose(0, 2, 1)
    gram = design_t @ design
    cross = design_t @ y
    coef = np.linalg.solve(gram, cross)  # (bar, 1 + factor, asset)
    resid = y - design @ coef
    return _Regression(coef[:, 1:, :], resid, valid)


def _ou_scores(resid: np.ndarray, valid: np.ndarray, center: bool) -> tuple[np.ndarray, np.ndarray]:
    """s-scores and half-lives (bars) of the cumulative residuals, per (bar, asset).

    ``resid`` has shape (bar, ou_window, asset). Invalid fits (missing data,
    ``b`` outside (0, 1), no residual variance) give NaN.
    """
    x = np.cumsum(resid, axis=1)
    lag, lead = x[:, :-1], x[:, 1:]
    lag_c = lag - lag.mean(axis=1, keepdims=True)
    lead_c = lead - lead.mean(axis=1, keepdims=True)
    ss = (lag_c * lag_c).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = (lag_c * lead_c).sum(axis=1) / ss
        a = lead.mean(axis=1) - b * lag.mean(axis=1)
        zeta = lead - a[:, None, :] - b[:, None, :] * lag
        var_zeta = (zeta * zeta).mean(axis=1)
        fine = valid & (ss > 0) & (b > 0) & (b < 1) & (var_zeta > 0)
        b = np.where(fine, b, 0.5)
        m = np.where(fine, a / (1.0 - b), np.nan)
        sigma_eq = np.sqrt(var_zeta / (1.0 - b * b))
        half_life = np.where(fine, math.log(2.0) / -np.log(b), np.nan)
    if center:
        counts = fine.sum(axis=1, keepdims=True)
        total = np.nansum(m, axis=1, keepdims=True)
        m = m - np.where(counts > 0, total / np.maximum(counts, 1), 0.0)
    s = np.where(fine, (x[:, -1, :] - m) / np.where(fine, sigma_eq, 1.0), np.nan)
    return s, half_life


# -- the book --------------------------------------------------------------------------


def _neutral_books(
    states: np.ndarray,
    betas: np.ndarray,
    valid: np.ndarray,
    loadings: np.ndarray,
    gross: float,
    max_weight: float,
) -> np.ndarray:
    """Books on some bars: equal-gross positions plus a hedge that zeroes their factor betas.

    Parameters
    ----------
    states : ndarray of int8, shape (bar, asset)
        -1, 0, +1 per asset of the fit.
    betas : ndarray, shape (bar, factor, asset)
        Regression betas on each bar (``B``).
    valid : ndarray of bool, shape (bar, asset)
        Assets with a regression on the bar; the hedge uses only them.
    loadings : ndarray, shape (factor, asset)
        Eigenportfolio weights (``Q``).
    gross, max_weight : float
        The book is scaled down (never up, uniformly, so it stays neutral)
        until ``sum |w| <= gross`` and ``max |w| <= max_weight``.

    Returns
    -------
    ndarray, shape (bar, asset)
        ``w + Q' c`` with ``c`` solving ``B (w + Q' c) = 0``; zero on a bar
        with no position.
    """
    active = states != 0
    count = active.sum(axis=1, keepdims=True)
    row = states * (gross / np.maximum(count, 1))
    q = np.where(valid[:, None, :], loadings[None], 0.0)  # (bar, factor, asset)
    b = np.where(valid[:, None, :], betas, 0.0)
    exposure = b @ row[:, :, None]  # (bar, factor, 1)
    mix = b @ q.transpose(0, 2, 1)  # (bar, factor, factor): the eigenportfolios' betas, ~I
    hedge = np.linalg.pinv(mix) @ -exposure
    book = row + (q.transpose(0, 2, 1) @ hedge)[:, :, 0]
    book[count[:, 0] == 0] = 0.0
    total = np.abs(book).sum(axis=1)
    peak = np.abs(book).max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.minimum(1.0, np.minimum(gross / total, max_weight / peak))
    return book * np.where(total > 0, scale, 0.0)[:, None]


def _run_states_py(
    score: np.ndarray,
    may_enter: np.ndarray,
    init: np.ndarray,
    s_entry: float,
    s_exit_short: float,
    s_exit_long: float,
) -> np.ndarray:
    """Position state per (bar, asset): -1 short, 0 flat, +1 long (reference twin).

    ``score`` is the s-score (NaN where the asset has no OU fit: an open
    position there is closed); ``may_enter`` marks where a new position may
    open (the half-life filter); ``init`` is each asset's state before the
    first row. A closed position may reopen on the same bar when the score is
    past the other entry band.
    """
    n_times, n_assets = score.shape
    states = np.zeros((n_times, n_assets), dtype=np.int8)
    for i in range(n_assets):
        state = init[i]
        for t in range(n_times):
            s = score[t, i]
            if not np.isfinite(s):
                state = 0
            else:
                if (state == -1 and s < s_exit_short) or (state == 1 and s > -s_exit_long):
                    state = 0
                if state == 0 and may_enter[t, i]:
                    if s > s_entry:
                        state = -1
                    elif s < -s_entry:
                        state = 1
            states[t, i] = state
    return states


_run_states = njit(cache=True, nogil=True)(_run_states_py)
