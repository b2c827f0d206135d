"""Mean reversion and breakout templates: Bollinger bands, RSI, Donchian channels.

Each asset of the universe is a *slot*: a per-asset state machine
(:mod:`alphaloop.strategies._band_kernel`) goes long (+1), short (-1) or
flat (0) on the template's entry and exit rules, decided at each bar's close
from bars up to and including that bar. The target weight of an asset is

    ``slot * state``, with ``slot = min(gross, max_leverage) / n_assets``

capped at ``max_weight``, where ``n_assets`` is the number of assets in the
universe (not the number held), so the book's gross exposure never exceeds
``gross`` however many slots are open. The weights are emitted as a full row
(every asset at its slot target; NaN for an asset without a close on that
bar) only on bars where some asset's state changes, and NaN elsewhere: the
simulators leave the book alone in between (positions drift with prices).

Templates
---------
``bollinger``
    ``z = (close - SMA_n) / std_n`` over the ``window`` closes ending at the
    bar (population std). Long when ``z <= -entry_z``, exit when
    ``z >= -exit_z``; short mirrored; optional stop band at ``|z| >= stop_z``.
``rsi``
    Wilder's RSI over ``window`` close-to-close changes. Long when
    ``RSI < entry_rsi``, exit when ``RSI > exit_rsi``; short mirrored
    (``RSI > 100 - entry_rsi``, exit when ``RSI < 100 - exit_rsi``).
``donchian``
    Breakout: long when the close is above the highest high of the previous
    ``entry_window`` bars (the current bar excluded), exit when it is below
    the lowest low of the previous ``exit_window`` bars; short mirrored.
    Uses ``high`` and ``low`` when the panel has both, else the close.

A window holding a missing value gives no indicator: the asset keeps its
state on that bar (no decision on a gap). An asset that leaves the universe
(eligible false with a close) goes flat.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from numba import njit
from pydantic import Field, model_validator

from alphaloop.errors import BacktestError, SpecError
from alphaloop.strategies._band_kernel import band_states
from alphaloop.strategies.base import TemplateInputs, TemplateOutput, TemplateParams

__all__ = ["Bollinger", "Donchian", "RelativeStrength", "rolling_zscore", "wilder_rsi"]


# -- indicators ------------------------------------------------------------------


def rolling_zscore(close: np.ndarray, window: int) -> np.ndarray:
    """``(close - mean) / std`` over the ``window`` closes ending at each bar (current included).

    Population std (ddof=0), as Bollinger bands use. NaN in the warm-up, where
    the window holds a missing close, and where the window is flat.
    """
    frame = pd.DataFrame(close)
    roll = frame.rolling(window, min_periods=window)
    mean = roll.mean().to_numpy()
    std = roll.std(ddof=0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (close - mean) / std
    # a flat window has std 0 up to rounding; its z-score means nothing
    z[~(std > 1e-12 * np.abs(mean))] = np.nan
    return z


def wilder_rsi(close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's relative strength index (0-100) of each column.

    The first average gain and loss are the simple means of the first
    ``window`` close-to-close changes; after that ``avg = (avg * (window - 1)
    + x) / window``. A missing close restarts the averaging (``window`` new
    changes are needed). RSI is 100 when there is no loss, 50 when nothing
    moved.
    """
    close = np.ascontiguousarray(close, dtype=np.float64)
    out = np.full(close.shape, np.nan)
    _rsi_kernel(close, window, out)
    return out


def _rsi_py(close: np.ndarray, window: int, out: np.ndarray) -> None:
    n_times, n_assets = close.shape
    for j in range(n_assets):
        count = 0
        gain = 0.0
        loss = 0.0
        for t in range(1, n_times):
            a, b = close[t - 1, j], close[t, j]
            if not (np.isfinite(a) and np.isfinite(b)):
                count = 0
                gain = 0.0
                loss = 0.0
                continue
            change = b - a
            up = change if change > 0.0 else 0.0
            down = -change if change < 0.0 else 0.0
            if count < window:
                gain += up
                loss += down
                count += 1
                if count < window:
                    continue
                gain /= window
                loss /= window
            else:
                gain = (gain * (window - 1) + up) / window
                loss = (loss * (window - 1) + down) / window
            total = gain + loss
            out[t, j] = 50.0 if total <= 0.0 else 100.0 * gain / total


_rsi_kernel = njit(cache=True, nogil=True)(_rsi_py)


def _channel(values: np.ndarray, window: int, how: Literal["max", "min"]) -> np.ndarray:
    """Max or min of the ``window`` bars *before* each bar (the current bar excluded)."""
    roll = pd.DataFrame(values).rolling(window, min_periods=window)
    stat = (roll.max() if how == "max" else roll.min()).to_numpy()
    out = np.full(values.shape, np.nan)
    out[1:] = stat[:-1]
    return out


# -- the shared slot machinery ---------------------------------------------------


class _Bands(TemplateParams):
    """What the three band templates share: sides, gross, the slot book."""

    long_short: bool = False
    gross: float = Field(1.0, gt=0, le=10)

    FIELDS: ClassVar[tuple[str, ...]] = ("close",)

    @property
    def shorts(self) -> bool:
        return self.long_short

    def spec_defaults(self) -> dict[str, Any]:
        limits: dict[str, Any] = {"max_leverage": max(1.0, self.gross)}
        if self.long_short:
            limits["allow_short"] = True
        return {"rebalance": {"frequency": "daily"}, "limits": limits}

    def _book(
        self,
        inputs: TemplateInputs,
        rules: dict[str, np.ndarray],
        signal: np.ndarray,
        *,
        name: str,
    ) -> TemplateOutput:
        """Run the state machine on ``rules`` and turn the states into slot weights."""
        if self.long_short and not inputs.allow_short:
            raise SpecError(
                f"template {name} has long_short: true but the spec does not allow shorts",
                hint="set limits.allow_short: true, or long_short: false",
            )
        close = np.asarray(inputs.panel["close"], dtype=np.float64)
        n_times, n_assets = close.shape
        if n_assets == 0:
            raise BacktestError(f"template {name} needs at least one asset")
        priced = np.isfinite(close) & (close > 0)
        eligible = np.asarray(inputs.eligible, dtype=bool) & priced
        decide = eligible & np.isfinite(signal)
        states = np.zeros((n_times, n_assets), dtype=np.int8)
        empty = np.zeros((n_times, n_assets), dtype=np.bool_)
        band_states(
            np.ascontiguousarray(decide),
            np.ascontiguousarray(priced & ~eligible),
            *(np.ascontiguousarray(rules.get(k, empty), dtype=np.bool_) for k in _RULES),
            self.long_short,
            states,
        )
        slot = min(self.gross, inputs.max_leverage) / n_assets
        slot = min(slot, inputs.max_weight)
        previous = np.vstack([np.zeros((1, n_assets), dtype=np.int8), states[:-1]])
        change = (states != previous).any(axis=1)
        weights = np.full((n_times, n_assets), np.nan)
        # a full row where some state changes; no order for an asset without a close
        weights[change] = np.where(priced[change], slot * states[change], np.nan)
        entries = int(((states != 0) & (previous == 0)).sum())
        diagnostics = {
            "slot_weight": slot,
            "n_assets": n_assets,
            "entries": entries,
            "decision_rows": int(change.sum()),
            "share_long": float((states == 1).mean()) if states.size else 0.0,
            "share_short": float((states == -1).mean()) if states.size else 0.0,
        }
        notes = (
            f"{name}: each of the {n_assets} assets is a slot of {slot:.4g} of equity "
            f"(min(gross, max_leverage) / assets, at most max_weight); weights change only "
            "on bars where some asset enters or exits",
            f"{name}: decisions at a bar's close use bars up to that close; fills follow the "
            "spec's fill timing (next open by default), so an overnight gap moves the entry "
            "price away from the band",
        )
        return TemplateOutput(
            kind="weights", signal=signal, weights=weights, diagnostics=diagnostics, notes=notes
        )


_RULES = ("long_entry", "long_exit", "long_stop", "short_entry", "short_exit", "short_stop")

_COMMON_PITFALLS = (
    "thresholds tuned on the full sample look far better than they trade: choose them on the "
    "search span only (the research engine does) and count every setting tried",
    "gaps: a decision at the close fills at the next open, which can be far beyond the band; "
    "results with same-bar fills are optimistic",
)


# -- Bollinger -------------------------------------------------------------------


class Bollinger(_Bands):
    """Bollinger-band mean reversion on each asset.

    Parameters
    ----------
    window : int
        Closes in the moving average and standard deviation (bars, the
        current bar included).
    entry_z : float
        Enter long when ``z <= -entry_z`` (standard deviations below the mean).
    exit_z : float
        Exit a long when ``z >= -exit_z`` (0 = back at the mean; negative =
        hold past it). Must be in ``(-entry_z, entry_z)``.
    stop_z : float, optional
        Stop band: exit a long when ``z <= -stop_z`` (above ``entry_z``); a
        new long then waits until ``z`` is back above ``-entry_z``.
    long_short : bool
        Also trade the mirror image (short at ``z >= entry_z``).
    gross : float
        Gross exposure with every slot open, a fraction of equity.
    """

    template: Literal["bollinger"] = "bollinger"
    window: int = Field(20, ge=2, le=2520)
    entry_z: float = Field(2.0, gt=0, le=10)
    exit_z: float = Field(0.0, ge=-10, le=10)
    stop_z: float | None = Field(None, gt=0, le=20)

    TITLE: ClassVar[str] = "Bollinger-band mean reversion"
    SUMMARY: ClassVar[str] = (
        "per asset: buy when the close is entry_z standard deviations below its moving "
        "average, sell when it is back within exit_z (shorts mirrored)"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "prices revert to a moving average within the holding period (no trend)",
        "a stretch of window bars is enough to estimate mean and dispersion",
        "each asset is an independent slot of gross / n_assets of equity",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        *_COMMON_PITFALLS,
        "a band strategy without a stop holds a falling asset all the way down (a trend is "
        "not a mean reversion); stop_z bounds it at the cost of whipsaws",
        "many small wins and a few large losses: look at the worst trade and the drawdown, "
        "not the win rate",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "window": (10, 20, 40, 60),
        "entry_z": (1.0, 1.5, 2.0, 2.5),
        "exit_z": (-0.5, 0.0, 0.5),
    }

    @model_validator(mode="after")
    def _bands_ordered(self) -> Bollinger:
        if not -self.entry_z < self.exit_z < self.entry_z:
            raise ValueError(
                f"exit_z ({self.exit_z}) must lie strictly between -entry_z and entry_z "
                f"({self.entry_z})"
            )
        if self.stop_z is not None and self.stop_z <= self.entry_z:
            raise ValueError(f"stop_z ({self.stop_z}) must be above entry_z ({self.entry_z})")
        return self

    def warmup(self) -> int:
        return self.window - 1

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        close = np.asarray(inputs.panel["close"], dtype=np.float64)
        z = rolling_zscore(close, self.window)
        stop = np.inf if self.stop_z is None else self.stop_z
        rules = {
            "long_entry": z <= -self.entry_z,
            "long_exit": z >= -self.exit_z,
            "long_stop": z <= -stop,
            "short_entry": z >= self.entry_z,
            "short_exit": z <= self.exit_z,
            "short_stop": z >= stop,
        }
        return self._book(inputs, rules, -z, name=self.template)


# -- RSI -------------------------------------------------------------------------


class RelativeStrength(_Bands):
    """RSI mean reversion on each asset.

    Parameters
    ----------
    window : int
        Close-to-close changes in Wilder's averages (bars).
    entry_rsi : float
        Enter long when RSI < entry_rsi (0-50; short when RSI > 100 - entry_rsi).
    exit_rsi : float
        Exit a long when RSI > exit_rsi (above entry_rsi; a short exits when
        RSI < 100 - exit_rsi).
    long_short : bool
    gross : float
        Gross exposure with every slot open, a fraction of equity.
    """

    template: Literal["rsi"] = "rsi"
    window: int = Field(14, ge=2, le=2520)
    entry_rsi: float = Field(30.0, gt=0, lt=50)
    exit_rsi: float = Field(50.0, gt=0, lt=100)

    TITLE: ClassVar[str] = "RSI mean reversion"
    SUMMARY: ClassVar[str] = (
        "per asset: buy when Wilder's RSI falls below entry_rsi, sell when it rises above "
        "exit_rsi (shorts mirrored around 50)"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "short-term losses tend to reverse (oversold assets recover)",
        "each asset is an independent slot of gross / n_assets of equity",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "RSI thresholds (and the window) tuned on the full sample: the famous RSI(2) < 10 rules "
        "were found on the same data they are shown on; choose on the search span only",
        *_COMMON_PITFALLS[1:],
        "RSI saturates in a trend (stays below 30 in a crash): without a stop the long is held "
        "all the way down",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "window": (2, 5, 14, 21),
        "entry_rsi": (10.0, 20.0, 30.0, 40.0),
        "exit_rsi": (50.0, 60.0, 70.0),
    }

    @model_validator(mode="after")
    def _levels_ordered(self) -> RelativeStrength:
        if self.exit_rsi <= self.entry_rsi:
            raise ValueError(
                f"exit_rsi ({self.exit_rsi}) must be above entry_rsi ({self.entry_rsi})"
            )
        return self

    def warmup(self) -> int:
        """``window`` changes for the first value, then the bars Wilder's smoothing needs to
        forget where the loaded history began (to 1e-10 of the first average:
        ``window * ln(1e10)``); earlier values depend on how much history was loaded."""
        return self.window + math.ceil(self.window * math.log(1e10))

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        close = np.asarray(inputs.panel["close"], dtype=np.float64)
        rsi = wilder_rsi(close, self.window)
        rules = {
            "long_entry": rsi < self.entry_rsi,
            "long_exit": rsi > self.exit_rsi,
            "short_entry": rsi > 100.0 - self.entry_rsi,
            "short_exit": rsi < 100.0 - self.exit_rsi,
        }
        return self._book(inputs, rules, 50.0 - rsi, name=self.template)


# -- Donchian --------------------------------------------------------------------


class Donchian(_Bands):
    """Donchian channel breakout on each asset.

    Parameters
    ----------
    entry_window : int
        Bars of the entry channel: long when the close is above the highest
        high of the ``entry_window`` bars before the current one.
    exit_window : int
        Bars of the exit channel: a long exits when the close is below the
        lowest low of the ``exit_window`` bars before the current one.
    long_short : bool
        Also trade downside breakouts (short below the entry channel's low,
        exit above the exit channel's high).
    gross : float
        Gross exposure with every slot open, a fraction of equity.
    """

    template: Literal["donchian"] = "donchian"
    entry_window: int = Field(20, ge=2, le=2520)
    exit_window: int = Field(10, ge=1, le=2520)

    TITLE: ClassVar[str] = "Donchian channel breakout"
    SUMMARY: ClassVar[str] = (
        "per asset: buy when the close breaks above the highest high of the previous "
        "entry_window bars, sell below the lowest low of the previous exit_window bars"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "breakouts start trends that last longer than the exit channel",
        "high and low are the bar's true range when present (else the close is used)",
        "each asset is an independent slot of gross / n_assets of equity",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "a channel that includes the current bar's high can never be broken by its close, and "
        "one computed on the fill bar peeks: the channel here ends at the previous bar",
        *_COMMON_PITFALLS,
        "many false breakouts in a range-bound market: the edge comes from a few long trends; "
        "a short sample may hold none",
    )
    # high and low are read when the dataset has both; the close alone also works
    FIELDS: ClassVar[tuple[str, ...]] = ("close",)
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "entry_window": (20, 55, 100, 200),
        "exit_window": (10, 20, 50),
    }

    def warmup(self) -> int:
        return max(self.entry_window, self.exit_window)

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        panel = inputs.panel
        close = np.asarray(panel["close"], dtype=np.float64)
        if "high" in panel and "low" in panel:
            high = np.asarray(panel["high"], dtype=np.float64)
            low = np.asarray(panel["low"], dtype=np.float64)
        else:
            high = low = close
        upper = _channel(high, self.entry_window, "max")
        lower = _channel(low, self.entry_window, "min")
        exit_high = _channel(high, self.exit_window, "max")
        exit_low = _channel(low, self.exit_window, "min")
        with np.errstate(invalid="ignore", divide="ignore"):
            width = upper - lower
            position = (close - (upper + lower) / 2.0) / width
        position[~(width > 0)] = np.nan
        valid = np.isfinite(position) & np.isfinite(exit_high) & np.isfinite(exit_low)
        signal = np.where(valid, position, np.nan)
        rules = {
            "long_entry": close > upper,
            "long_exit": close < exit_low,
            "short_entry": close < lower,
            "short_exit": close > exit_high,
        }
        out = self._book(inputs, rules, signal, name=self.template)
        used = "high/low" if high is not close else "close (no high/low in the data)"
        return TemplateOutput(
            kind=out.kind,
            signal=out.signal,
            weights=out.weights,
            diagnostics={**out.diagnostics, "channel_fields": used},
            notes=(*out.notes, f"donchian: channels from {used}, ending at the previous bar"),
        )
