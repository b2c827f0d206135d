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
``s > -s_exit_long``; at most ``max_positions`` are open at once (the
strongest ``|s|`` first when entries compete for the last slots). The
half-life filter gates entries only; a position is closed early when its
asset loses its OU fit (missing data, ``b`` outside (0, 1)) or leaves the
PCA universe at a refit.

Each position is ``position_size`` of equity (default ``gross /
max_positions``), decided when it opens and kept until it closes: opening or
closing one name does not resize the others. The book is the positions plus
a hedge in the eigenportfolios that zeroes its regression beta to every kept
factor. Orders go out only on bars where a position opens or closes and on
refit dates with a book, and only for the assets that need them (see
:mod:`alphaloop.strategies._pca_book`): the names that open or close, and
the hedge legs needed to keep the book's beta to each factor within
``hedge_tolerance`` times its positions' gross beta; a refit date re-sends
the whole book. The book is scaled down (never up) on a bar where it would
exceed ``sum |w| <= gross`` or ``|w| <= max_weight``. Between those bars
positions drift with prices.

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
from alphaloop.strategies._pca_book import LazyBook, cap_scale, neutral_book
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
        Cap on the book's sum of |weights| (fraction of equity), positions
        and hedge; itself capped at the spec's ``max_leverage``.
    max_positions : int or None
        Most positions open at once; None: no cap beyond the number of
        assets in the panel.
    position_size : float or None
        |Weight| of each position (fraction of equity), fixed from open to
        close; None: ``gross / max_positions`` (with ``max_positions`` None,
        ``gross`` over the number of assets), so that the positions alone
        never exceed ``gross``. Capped at the spec's ``max_weight``.
    hedge_tolerance : float
        On each decision bar the book's net beta to each kept factor is at
        most this share of its positions' gross beta ``sum_i |beta_i p_i|``;
        hedge legs are re-traded only as far as needed for that (0: every
        leg whose target moves).
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
    max_positions: int | None = Field(None, ge=1, le=100_000)
    position_size: float | None = Field(None, gt=0, le=10)
    hedge_tolerance: float = Field(0.05, ge=0, le=1)

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
        if self.position_size is not None and self.position_size > self.gross:
            raise ValueError(
                f"position_size ({self.position_size}) must not exceed gross ({self.gross})"
            )
        if (
            self.position_size is not None
            and self.max_positions is not None
            and self.position_size * self.max_positions > self.gross * (1 + 1e-9)
        ):
            raise ValueError(
                f"max_positions ({self.max_positions}) positions of position_size "
                f"({self.position_size}) exceed gross ({self.gross}); lower one of them"
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

    def min_assets(self) -> int:
        """Fewest assets these parameters work on: two per factor kept, plus two."""
        return min_assets(self.n_factors)  # the module's function

    def warmup(self) -> int:
        """Bars after which a run on less history agrees with the full run.

        The PCA window, plus up to ``refit`` bars until the first refit date
        both runs share, plus ``ou_window`` bars for positions held at that
        date in the longer run to close (the state machine remembers them),
        plus up to ``refit`` bars until the next refit re-sends the whole book
        (until then hedge legs left within the tolerance remember the
        longer run's book). The first s-score comes after ``window`` bars.
        A binding ``max_positions`` couples the assets: a slot taken in one
        run and free in the other can keep them apart for longer.
        """
        return self.window + 2 * self.refit + self.ou_window

    def spec_defaults(self) -> dict[str, Any]:
        return {
            "rebalance": {"frequency": "daily"},
            "limits": {"allow_short": True, "max_leverage": 2.0, "max_weight": 0.25},
        }

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        return self._build(inputs)[0]

    def _build(self, inputs: TemplateInputs) -> tuple[TemplateOutput, np.ndarray]:
        """The output, and the position legs of the book (NaN off decision bars)."""
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
        legs = np.full(close.shape, np.nan)
        priced = np.isfinite(close) & (close > 0)
        gross = min(self.gross, inputs.max_leverage)
        slots, size = self._sizing(n_assets, gross, inputs.max_weight)
        book = LazyBook(_carry_forward(close, priced))
        state = np.zeros(n_assets, dtype=np.int8)  # held into each block
        refits: list[dict[str, Any]] = []
        dates = inputs.panel.index
        ppy = float(inputs.periods_per_year)
        starts = refit_rows(dates, self.window, self.refit)
        scaled = 0
        for start, stop in itertools.pairwise(np.append(starts, n_times)):
            fit, reg, block_score, may_enter, entry = self._fit_block(rets, ok, start, stop, ppy)
            entry = {"date": dates[start].isoformat(), **entry}
            refits.append(entry)
            score[start:stop] = block_score
            states = _run_states(
                block_score,
                may_enter,
                state,
                self.s_entry,
                self.s_exit_short,
                self.s_exit_long,
                slots,
            )
            before = np.vstack([state[None, :], states[:-1]])
            decide = (states != before).any(axis=1)
            decide[0] |= bool(states[0].any() or book.held.any())  # a refit re-sends the book
            for row in np.flatnonzero(decide):
                t = start + int(row)
                target = np.zeros(n_assets)
                legs[t] = 0.0
                betas = np.zeros((self.n_factors, n_assets))
                tol = np.zeros(self.n_factors)
                if fit is not None and reg is not None:
                    cols = fit.assets
                    valid = reg.valid[row]
                    positions = states[row, cols] * size
                    neutral = neutral_book(positions, reg.betas[row], valid, fit.loadings)
                    scale = cap_scale(neutral, gross, inputs.max_weight)
                    scaled += scale < 1.0
                    target[cols] = neutral * scale
                    legs[t, cols] = positions * scale
                    betas[:, cols] = np.where(valid[None, :], reg.betas[row], 0.0)
                    tol = self.hedge_tolerance * np.abs(betas[:, cols] * positions * scale).sum(1)
                weights[t] = book.decide(
                    t,
                    target,
                    states[row],
                    betas,
                    None if row == 0 else tol,
                    priced[t],
                    inputs.max_leverage,
                )
            state = states[-1]

        notes = [
            f"PCA of the trailing {self.window}-bar correlation matrix every {self.refit} bars, "
            f"{self.n_factors} eigenportfolios kept; residual OU fits on {self.ou_window} bars",
            f"each position is {size:.6g} of equity from open to close, at most {slots} open; "
            "opening or closing one does not resize the others",
            "books are factor-neutral (net beta to each kept factor at most "
            f"{self.hedge_tolerance:g} of the positions' gross beta) on the bars orders go "
            "out; hedge legs trade only as needed for that; refit dates re-send the whole "
            "book; between them positions drift",
        ]
        if gross < self.gross:
            notes.append(f"gross {self.gross} capped at the spec's max_leverage {gross}")
        if self.position_size is not None and size < self.position_size:
            notes.append(
                f"position_size {self.position_size} capped at {size:.6g} "
                "(the spec's max_weight or the capped gross)"
            )
        if scaled:
            notes.append(
                f"on {scaled} decision bars the book exceeded gross or max_weight and was "
                "scaled down (resizing its positions)"
            )
        diagnostics = {
            "refits": refits,
            "decision_bars": int(np.isfinite(weights).any(axis=1).sum()),
            "full_rows": book.full_rows,
            "scaled_bars": int(scaled),
            "position_size": size,
            "max_positions": slots,
            "min_assets": min_assets(self.n_factors),
        }
        out = TemplateOutput(
            kind="weights",
            signal=-score,
            weights=weights,
            diagnostics=diagnostics,
            notes=tuple(notes),
        )
        return out, legs

    def _sizing(self, n_assets: int, gross: float, max_weight: float) -> tuple[int, float]:
        """Most open positions and each one's |weight| (fraction of equity).

        ``position_size`` (default ``gross / max_positions``, with
        ``max_positions`` defaulting to ``n_assets``) capped at ``gross`` and
        ``max_weight``; the slots are cut so that the positions' sum never
        exceeds ``gross``.
        """
        slots = n_assets if self.max_positions is None else min(self.max_positions, n_assets)
        size = gross / slots if self.position_size is None else min(self.position_size, gross)
        slots = max(1, min(slots, math.floor(gross / size * (1 + 1e-9))))
        return slots, min(size, max_weight)

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


# -- positions ------------------------------------------------------------------------


def _run_states_py(
    score: np.ndarray,
    may_enter: np.ndarray,
    init: np.ndarray,
    s_entry: float,
    s_exit_short: float,
    s_exit_long: float,
    max_positions: int,
) -> np.ndarray:
    """Position state per (bar, asset): -1 short, 0 flat, +1 long (reference twin).

    ``score`` is the s-score (NaN where the asset has no OU fit: an open
    position there is closed); ``may_enter`` marks where a new position may
    open (the half-life filter); ``init`` is each asset's state before the
    first row. On each bar exits come first; then entries, at most
    ``max_positions`` open in all: when more assets qualify than slots are
    free, the largest ``|s|`` win (ties: the lower column). A closed position
    may reopen on the same bar when the score is past the other entry band.
    """
    n_times, n_assets = score.shape
    states = np.zeros((n_times, n_assets), dtype=np.int8)
    state = init.copy()
    want = np.zeros(n_assets, dtype=np.int8)
    strength = np.zeros(n_assets)
    for t in range(n_times):
        n_open = 0
        n_want = 0
        for i in range(n_assets):
            s = score[t, i]
            want[i] = 0
            if not np.isfinite(s):
                state[i] = 0
                continue
            if (state[i] == -1 and s < s_exit_short) or (state[i] == 1 and s > -s_exit_long):
                state[i] = 0
            if state[i] != 0:
                n_open += 1
            elif may_enter[t, i]:
                if s > s_entry:
                    want[i] = -1
                elif s < -s_entry:
                    want[i] = 1
                if want[i] != 0:
                    n_want += 1
        free = max_positions - n_open
        if n_want <= free:
            for i in range(n_assets):
                if want[i] != 0:
                    state[i] = want[i]
        elif free > 0:
            for i in range(n_assets):
                strength[i] = abs(score[t, i]) if want[i] != 0 else -1.0
            order = np.argsort(-strength, kind="mergesort")
            for k in range(free):
                state[order[k]] = want[order[k]]
        states[t] = state
    return states


_run_states = njit(cache=True, nogil=True)(_run_states_py)


def _carry_forward(close: np.ndarray, priced: np.ndarray) -> np.ndarray:
    """Each asset's last price at or before each bar (NaN before its first)."""
    rows = np.where(priced, np.arange(close.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    cols = np.arange(close.shape[1])[None, :]
    return np.where(priced[rows, cols], close[rows, cols], np.nan)
