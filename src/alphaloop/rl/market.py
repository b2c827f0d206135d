"""What an environment reads, prepared once: prices, impact inputs, observations, episode bounds.

:func:`prepare_market` turns a Panel and an :class:`~alphaloop.rl.EnvConfig`
into a :class:`PreparedMarket`, which any number of environments (one
:class:`~alphaloop.rl.TradingEnv`, many in a :class:`~alphaloop.rl.
VecTradingEnv`) share read-only. Rows after the span's last bar are never
read: prices, impact inputs and factor values stop there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaloop.data import Panel
from alphaloop.execution.costs import FillTiming, execution_lag, impact_inputs
from alphaloop.rl.config import EnvConfig
from alphaloop.rl.errors import RLConfigError, RLObservationWarning
from alphaloop.rl.features import market_features
from alphaloop.rl.spans import resolve_span

__all__ = ["PreparedMarket", "prepare_market"]


@dataclass(frozen=True)
class PreparedMarket:
    """Arrays of rows ``0 .. span[1]`` of one Panel, and where episodes may run.

    Attributes
    ----------
    index : DatetimeIndex
        Timestamps of the rows (UTC).
    assets : tuple of str
    exec_px, close, adv, sigma : ndarray, shape (rows, assets)
        Fill reference prices (open or close, per ``fills``), closes, and the
        square-root impact inputs known before each bar (NaN: no impact).
    volume : ndarray, shape (rows, assets), or (0, 0)
        Shares traded per bar, for the participation cap (empty without one).
    year_frac : ndarray, shape (rows,)
        Calendar years since the previous bar (for borrow).
    features : ndarray, shape (rows, columns), float32
        Normalized market values (see :mod:`alphaloop.rl.features`).
    feature_names : tuple of str
    span : (int, int)
        First and last row of the span (inclusive).
    first_start, last_start : int
        Rows an episode may start at (its first decision).
    episode_length : int
        Decisions per episode.
    lag : int
        Rows between a decision and its fill (1, or 0 for ``same_close``).
    nan_filled : int
        Missing observation values replaced by 0 (``nan_policy: zero``).
    notes : tuple of str
        Caveats for reports (impact not modelled, optimistic fills, NaN fills).
    """

    index: pd.DatetimeIndex
    assets: tuple[str, ...]
    exec_px: np.ndarray
    close: np.ndarray
    adv: np.ndarray
    sigma: np.ndarray
    volume: np.ndarray
    year_frac: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    span: tuple[int, int]
    first_start: int
    last_start: int
    episode_length: int
    lag: int
    nan_filled: int
    notes: tuple[str, ...]

    @property
    def n_assets(self) -> int:
        return len(self.assets)


def _prices(panel: Panel, name: str, last: int) -> np.ndarray:
    values = np.ascontiguousarray(panel[name][: last + 1], dtype=np.float64)
    if np.isinf(values).any():
        row, col = (int(x) for x in np.argwhere(np.isinf(values))[0])
        raise RLConfigError(
            f"the {name!r} of {panel.assets[col]} at {panel.index[row]:%Y-%m-%d} is infinite",
            hint="repair the data; a missing value should be NaN",
        )
    return values


def _first_usable(features: np.ndarray, first: int, stack: int) -> int | None:
    """First row ``>= first`` whose ``stack`` rows up to it are all finite."""
    finite = np.isfinite(features).all(axis=1)
    run = 0
    for r in range(len(finite)):
        run = run + 1 if finite[r] else 0
        if r >= first and run >= stack:
            return r
    return None


def _nan_check(
    features: np.ndarray, names: tuple[str, ...], index: pd.DatetimeIndex,
    rows: slice, policy: str,
) -> int:  # fmt: skip
    block = features[rows]
    bad = ~np.isfinite(block)
    count = int(bad.sum())
    if count == 0:
        return 0
    r, c = (int(x) for x in np.argwhere(bad)[0])
    where = f"{names[c]} at {index[rows.start + r]:%Y-%m-%d}"
    if policy == "raise":
        raise RLConfigError(
            f"{count} observation values are missing (NaN) after the warm-up, first {where}",
            hint="set nan_policy: zero to replace them with 0 (recorded), a later span or "
            "a longer warmup",
        )
    block[bad] = 0.0
    warnings.warn(
        f"{count} missing observation values replaced by 0, first {where}",
        RLObservationWarning,
        stacklevel=3,
    )
    return count


def prepare_market(panel: Panel, config: EnvConfig) -> PreparedMarket:
    """Arrays and episode bounds of ``config`` on ``panel`` (see :class:`PreparedMarket`).

    Raises
    ------
    RLConfigError
        Unknown assets, missing fields, a span too short for one episode, or
        missing observation values with ``nan_policy: raise``.
    HoldoutError
        A span inside the sealed holdout.
    """
    if config.assets is not None:
        missing = [a for a in config.assets if a not in panel.assets]
        if missing:
            raise RLConfigError(
                f"assets not in the data: {missing[:5]}",
                hint=f"the data has {', '.join(panel.assets[:10])}",
            )
        panel = panel.select(assets=list(config.assets))
    if "close" not in panel:
        raise RLConfigError(f"the data has no 'close' field ({', '.join(panel.field_names)})")
    fills = FillTiming(config.fills)
    if fills is FillTiming.NEXT_OPEN and "open" not in panel:
        raise RLConfigError(
            f"fills at the next open need an 'open' field; the data has "
            f"{', '.join(panel.field_names)}",
            hint="set fills: next_close",
        )
    first, last = resolve_span(panel, config)
    close = _prices(panel, "close", last)
    exec_px = _prices(panel, "open", last) if fills is FillTiming.NEXT_OPEN else close
    notes = []
    costs = config.costs
    volume = np.empty((0, 0))
    if config.participation is not None:
        if "volume" not in panel:
            raise RLConfigError(
                "participation caps fills at a share of each bar's volume; the data has no "
                f"'volume' field ({', '.join(panel.field_names)})",
                hint="drop participation or use data with volume",
            )
        volume = _prices(panel, "volume", last)
        notes.append(
            f"participation cap {config.participation:g} of each bar's volume per asset; "
            "remainders carried to the next bars"
        )
    if costs.impact == "sqrt" and "volume" in panel:
        adv, sigma = impact_inputs(close, _prices(panel, "volume", last), costs.impact_window)
    else:
        adv = sigma = np.full_like(close, np.nan)
        if costs.impact == "sqrt":
            notes.append("market impact not modelled: the dataset has no volume")
    if fills.optimistic:
        notes.append("OPTIMISTIC fills at the signal bar's close")
    index = panel.index[: last + 1]
    days = np.diff(index.asi8) / 86_400e9
    year_frac = np.concatenate([[0.0], days / 365.0])
    features, names = market_features(panel, config, last)
    feature_names = tuple(names)
    stack = config.stack
    floor = max(first, stack - 1)
    if config.warmup is None:
        start = _first_usable(features[:last], floor, stack)
        if start is None:
            raise RLConfigError(
                f"no bar of the span {index[first]:%Y-%m-%d} .. {index[last]:%Y-%m-%d} has "
                "every observation value (factor warm-up or missing prices)",
                hint="use a longer span, shorter factor windows, or nan_policy: zero with a warmup",
            )
    else:
        start = max(first + config.warmup, stack - 1)
    max_steps = last - start
    if max_steps < 1:
        raise RLConfigError(
            f"the span {index[first]:%Y-%m-%d} .. {index[last]:%Y-%m-%d} leaves no decision "
            f"after its warm-up (first usable bar {index[min(start, last)]:%Y-%m-%d})"
        )
    features = np.array(features)  # own copy: NaN repairs must not touch a shared array
    nan_filled = _nan_check(
        features, feature_names, index, slice(start - stack + 1, last + 1), config.nan_policy
    )
    if nan_filled:
        notes.append(f"{nan_filled} missing observation values replaced by 0")
    length = config.episode_length or max_steps
    if length > max_steps:
        raise RLConfigError(
            f"episode_length {length} is longer than the {max_steps} decisions the span "
            f"holds after its warm-up ({index[start]:%Y-%m-%d} .. {index[last]:%Y-%m-%d})",
            hint="shorten episode_length or widen the span",
        )
    return PreparedMarket(
        index=index,
        assets=panel.assets,
        exec_px=exec_px,
        close=close,
        adv=np.ascontiguousarray(adv),
        sigma=np.ascontiguousarray(sigma),
        volume=volume,
        year_frac=year_frac,
        features=features,
        feature_names=feature_names,
        span=(first, last),
        first_start=start,
        last_start=last - length if config.start == "random" else start,
        episode_length=length,
        lag=execution_lag(fills),
        nan_filled=nan_filled,
        notes=tuple(notes),
    )
