"""Meta strategy controller: the global risk mode and strategy weights from the market's state.

At each bar the controller reads the market from data up to and including that bar:

``vol_regime``
    The causal volatility regime of the dataset's equal-weight index
    (:func:`alphaloop.risk.volatility_regimes`: 0 calm ... ``n - 1`` turbulent,
    ``-1`` during warm-up).
``breadth``
    The fraction of member symbols whose close is above their own
    ``breadth_window``-bar mean.
``drawdown``
    The index's fall from its running peak, as a positive fraction.

From them it *indicates* a mode: DEFENSIVE when the drawdown is deeper than
``defensive_drawdown``, or the market is in its most turbulent volatility regime with
breadth under ``defensive_breadth``; AGGRESSIVE when the regime is the calmest, breadth
is above ``aggressive_breadth`` and the drawdown is shallower than
``aggressive_drawdown``; NORMAL otherwise (and during warm-up). The mode in force
changes only after the same new mode has been indicated ``confirm_bars`` bars in a
row, so one noisy bar does not flip it; a move to DEFENSIVE on a drawdown breach is
immediate.

Strategy weights are proportional to each strategy's positive Sharpe ratio over
the last ``weight_lookback`` bars (strategies with no positive Sharpe, or fewer than
``min_observations`` returns, get zero) and sum to the mode's gross budget
(``mode_gross``). Every decision carries its inputs and reasons; a ``sink`` stores
each one: :func:`audit_sink` in the audit log, :func:`policy_sink` puts mode
changes into the policy store the risk engines read (:func:`fan_out` does both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.data.panel import Panel, as_utc
from alphaloop.errors import AlphaloopError
from alphaloop.live.ensemble import sharpe_allocation
from alphaloop.risk.market_index import equal_weight_returns
from alphaloop.risk.regimes import volatility_regimes

if TYPE_CHECKING:
    from alphaloop.execution.audit_log import AuditLog
    from alphaloop.execution.policy_store import PolicyStore

__all__ = [
    "RISK_MODES",
    "ControllerConfig",
    "ControllerDecision",
    "ControllerError",
    "MetaController",
    "audit_sink",
    "fan_out",
    "policy_sink",
]

RISK_MODES: tuple[str, ...] = ("AGGRESSIVE", "NORMAL", "DEFENSIVE")


class ControllerError(AlphaloopError):
    """The meta controller was given bad input (a setting, a date, returns)."""


@dataclass(frozen=True)
class ControllerConfig:
    """Settings of :class:`MetaController` (windows in bars, fractions in [0, 1]).

    Parameters
    ----------
    vol_window, vol_history, vol_regimes : int
        Trailing volatility window, history before the first regime label, and number
        of volatility regimes (at least 2).
    breadth_window : int
        Bars in each symbol's mean for breadth.
    defensive_drawdown, aggressive_drawdown : float
        Index drawdown beyond which the mode is DEFENSIVE, and within which
        AGGRESSIVE is allowed.
    defensive_breadth, aggressive_breadth : float
        Breadth under which a turbulent market is DEFENSIVE, and over which a calm
        one is AGGRESSIVE.
    confirm_bars : int
        Bars in a row a new mode must be indicated before it is put in force.
    mode_gross : mapping of mode to float
        Gross budget (sum of strategy weights) in each mode.
    weight_lookback, min_observations : int
        Bars of strategy returns behind the weights, and the fewest a strategy needs.
    """

    vol_window: int = 21
    vol_history: int = 252
    vol_regimes: int = 3
    breadth_window: int = 50
    defensive_drawdown: float = 0.15
    aggressive_drawdown: float = 0.05
    defensive_breadth: float = 0.35
    aggressive_breadth: float = 0.6
    confirm_bars: int = 3
    mode_gross: Mapping[str, float] = field(
        default_factory=lambda: {"AGGRESSIVE": 1.0, "NORMAL": 0.7, "DEFENSIVE": 0.3}
    )
    weight_lookback: int = 63
    min_observations: int = 20

    def __post_init__(self) -> None:
        for name in ("vol_window", "vol_history", "breadth_window", "weight_lookback"):
            _at_least(name, getattr(self, name), 2)
        _at_least("vol_regimes", self.vol_regimes, 2)
        _at_least("confirm_bars", self.confirm_bars, 1)
        _at_least("min_observations", self.min_observations, 2)
        for name in (
            "defensive_drawdown",
            "aggressive_drawdown",
            "defensive_breadth",
            "aggressive_breadth",
        ):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise ControllerError(f"ControllerConfig.{name} must be in [0, 1], got {v!r}")
        if self.aggressive_drawdown > self.defensive_drawdown:
            raise ControllerError(
                "ControllerConfig.aggressive_drawdown must not exceed defensive_drawdown"
            )
        if self.defensive_breadth > self.aggressive_breadth:
            raise ControllerError(
                "ControllerConfig.defensive_breadth must not exceed aggressive_breadth"
            )
        if set(self.mode_gross) != set(RISK_MODES):
            raise ControllerError(
                f"ControllerConfig.mode_gross needs exactly the modes {', '.join(RISK_MODES)}"
            )
        bad = {k: v for k, v in self.mode_gross.items() if not (np.isfinite(v) and v >= 0)}
        if bad:
            raise ControllerError(f"ControllerConfig.mode_gross must be finite and >= 0: {bad}")


def _at_least(name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ControllerError(f"ControllerConfig.{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class ControllerDecision:
    """One bar's decision.

    Attributes
    ----------
    at : pandas.Timestamp
        The decision bar (UTC).
    mode : str
        The risk mode in force after this bar.
    previous_mode : str
        The mode in force before it.
    indicated : str
        The mode this bar's market state points to (may differ from ``mode`` while
        unconfirmed).
    inputs : dict
        ``vol_regime``, ``vol_regime_name``, ``breadth``, ``drawdown`` (NaN-free
        JSON values; None where not yet available).
    weights : dict of str to float
        Strategy weights (sum to the mode's gross budget, or 0).
    reasons : tuple of str
        Why the mode was indicated, kept or changed, and why a strategy got zero.
    """

    at: pd.Timestamp
    mode: str
    previous_mode: str
    indicated: str
    inputs: dict[str, Any]
    weights: dict[str, float]
    reasons: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """Whether the mode changed at this bar."""
        return self.mode != self.previous_mode

    def to_dict(self) -> dict[str, Any]:
        """JSON form of every field, ``at`` in ISO format, plus ``changed``."""
        return {
            "at": self.at.isoformat(),
            "mode": self.mode,
            "previous_mode": self.previous_mode,
            "indicated": self.indicated,
            "changed": self.changed,
            "inputs": dict(self.inputs),
            "weights": dict(self.weights),
            "reasons": list(self.reasons),
        }


class MetaController:
    """Sets the risk mode and strategy weights bar by bar (see the module docstring).

    Parameters
    ----------
    config : ControllerConfig, optional
    mode : str, default "NORMAL"
        The mode in force before the first decision.
    sink : callable, optional
        Called with every :class:`ControllerDecision` (store it, publish it).
    """

    def __init__(
        self,
        config: ControllerConfig | None = None,
        *,
        mode: str = "NORMAL",
        sink: Callable[[ControllerDecision], None] | None = None,
    ) -> None:
        if mode not in RISK_MODES:
            raise ControllerError(f"mode must be one of {', '.join(RISK_MODES)}, got {mode!r}")
        self.config = config or ControllerConfig()
        self.mode = mode
        self.sink = sink
        self._pending: str | None = None
        self._streak = 0

    def state(self) -> dict[str, Any]:
        """What the controller carries from bar to bar: the mode, the mode waiting for
        confirmation and for how many bars it was indicated (a checkpoint's part)."""
        return {"mode": self.mode, "pending": self._pending, "streak": self._streak}

    def restore(self, state: Mapping[str, Any]) -> None:
        """Carry on from :meth:`state` (after a restart)."""
        mode, pending = state["mode"], state.get("pending")
        if mode not in RISK_MODES or (pending is not None and pending not in RISK_MODES):
            raise ControllerError(f"cannot restore controller state {dict(state)!r}: bad mode")
        self.mode, self._pending, self._streak = mode, pending, int(state.get("streak", 0))

    # ------------------------------------------------------------ market state
    def market_state(self, panel: Panel) -> pd.DataFrame:
        """The market state at every bar, each row from data up to that bar only.

        Columns ``vol_regime`` (int, -1 in warm-up), ``breadth`` and ``drawdown``
        (NaN before they can be computed); index the panel's bars.
        """
        cfg = self.config
        if "close" not in panel:
            raise ControllerError("the panel has no 'close' field; the controller reads closes")
        close = panel.frame("close")
        member = panel.membership
        index_ret = equal_weight_returns(close, member).reindex(close.index).fillna(0.0)
        state = pd.DataFrame(index=close.index)
        if len(index_ret) >= cfg.vol_window:
            labels = volatility_regimes(
                index_ret,
                window=cfg.vol_window,
                n_regimes=cfg.vol_regimes,
                min_history=cfg.vol_history,
            )
            state["vol_regime"] = labels.labels.to_numpy()
        else:
            state["vol_regime"] = -1
        level = (1.0 + index_ret).cumprod()
        state["drawdown"] = 1.0 - level / level.cummax()
        prices = close.where(member)
        mean = prices.rolling(cfg.breadth_window, min_periods=cfg.breadth_window).mean()
        above = (prices > mean) & mean.notna()
        counted = mean.notna().sum(axis=1)
        state["breadth"] = (above.sum(axis=1) / counted).where(counted > 0)
        return state

    def indicate(self, row: Mapping[str, Any]) -> tuple[str, list[str]]:
        """The mode one market-state row points to, with the reasons."""
        cfg = self.config
        regime = int(row["vol_regime"])
        breadth, drawdown = float(row["breadth"]), float(row["drawdown"])
        if np.isfinite(drawdown) and drawdown > cfg.defensive_drawdown:
            return "DEFENSIVE", [
                f"index drawdown {drawdown:.1%} is deeper than {cfg.defensive_drawdown:.0%}"
            ]
        if regime < 0 or not np.isfinite(breadth):
            return "NORMAL", ["market state still warming up"]
        top = cfg.vol_regimes - 1
        if regime == top and breadth < cfg.defensive_breadth:
            return "DEFENSIVE", [
                f"most turbulent volatility regime and breadth {breadth:.0%} "
                f"under {cfg.defensive_breadth:.0%}"
            ]
        if regime == 0 and breadth > cfg.aggressive_breadth and drawdown < cfg.aggressive_drawdown:
            return "AGGRESSIVE", [
                f"calmest volatility regime, breadth {breadth:.0%} over "
                f"{cfg.aggressive_breadth:.0%}, drawdown {drawdown:.1%}"
            ]
        return "NORMAL", [
            f"volatility regime {regime}, breadth {breadth:.0%}, drawdown {drawdown:.1%}"
        ]

    # ------------------------------------------------------------ decisions
    def step(
        self,
        at: Any,
        row: Mapping[str, Any],
        strategy_returns: pd.DataFrame | None = None,
        *,
        regime_names: tuple[str, ...] | None = None,
    ) -> ControllerDecision:
        """Decide at bar ``at`` from its market-state ``row`` (see :meth:`market_state`).

        ``strategy_returns`` (index bars, one column per strategy, per-bar simple
        returns) is read up to and including ``at`` only.
        """
        ts = as_utc(at)
        indicated, reasons = self.indicate(row)
        previous = self.mode
        immediate = indicated == "DEFENSIVE" and reasons[0].startswith("index drawdown")
        if indicated == self.mode:
            self._pending, self._streak = None, 0
        elif immediate:
            self.mode = indicated
            self._pending, self._streak = None, 0
            reasons.append("drawdown breach: DEFENSIVE at once")
        else:
            if indicated == self._pending:
                self._streak += 1
            else:
                self._pending, self._streak = indicated, 1
            if self._streak >= self.config.confirm_bars:
                self.mode = indicated
                self._pending, self._streak = None, 0
                reasons.append(f"{indicated} confirmed over {self.config.confirm_bars} bar(s)")
            else:
                reasons.append(
                    f"{indicated} indicated {self._streak} of {self.config.confirm_bars} "
                    f"bar(s): {self.mode} stays"
                )
        weights, why = self._weights(ts, strategy_returns)
        regime = int(row["vol_regime"])
        decision = ControllerDecision(
            at=ts,
            mode=self.mode,
            previous_mode=previous,
            indicated=indicated,
            inputs={
                "vol_regime": regime,
                "vol_regime_name": _regime_name(regime, regime_names or ()),
                "breadth": _finite(row["breadth"]),
                "drawdown": _finite(row["drawdown"]),
            },
            weights=weights,
            reasons=tuple(reasons + why),
        )
        if self.sink is not None:
            self.sink(decision)
        return decision

    def run(
        self,
        panel: Panel,
        *,
        strategy_returns: pd.DataFrame | None = None,
        start: Any = None,
        end: Any = None,
    ) -> list[ControllerDecision]:
        """Decide at every bar of ``panel`` from ``start`` to ``end`` (inclusive), in order."""
        from alphaloop.risk.regimes import volatility_names

        state = self.market_state(panel)
        if strategy_returns is not None:
            _check_returns(strategy_returns)
        lo = 0 if start is None else int(state.index.searchsorted(as_utc(start), side="left"))
        hi = len(state) if end is None else int(state.index.searchsorted(as_utc(end), "right"))
        names = volatility_names(self.config.vol_regimes)
        out = []
        for ts, row in state.iloc[lo:hi].iterrows():
            out.append(self.step(ts, row, strategy_returns, regime_names=names))
        return out

    def _weights(
        self, at: pd.Timestamp, returns: pd.DataFrame | None
    ) -> tuple[dict[str, float], list[str]]:
        if returns is None or returns.shape[1] == 0:
            return {}, []
        cfg = self.config
        idx = pd.DatetimeIndex(returns.index)
        idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
        upto = int(idx.searchsorted(at, side="right"))
        window = returns.iloc[max(0, upto - cfg.weight_lookback) : upto]
        mix = sharpe_allocation(window, cfg.min_observations)
        why: list[str] = []
        for name, share in mix.items():
            if share > 0:
                continue
            count = int(window[name].notna().sum())
            if count < cfg.min_observations:
                why.append(f"{name}: {count} returns, needs {cfg.min_observations}")
            else:
                why.append(f"{name}: recent Sharpe ratio is not positive")
        if not any(v > 0 for v in mix.values()):
            return dict.fromkeys(mix, 0.0), [*why, "no strategy qualifies: all weights 0"]
        gross = float(cfg.mode_gross[self.mode])
        return {k: gross * v for k, v in mix.items()}, why


def _regime_name(regime: int, names: tuple[str, ...]) -> str | None:
    if regime < 0:
        return "warm-up"
    return names[regime] if regime < len(names) else None


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


def _check_returns(returns: pd.DataFrame) -> None:
    if not isinstance(returns, pd.DataFrame):
        raise ControllerError("strategy_returns must be a DataFrame (bars x strategies)")
    values = returns.to_numpy(dtype=float)
    if np.isinf(values).any():
        raise ControllerError("strategy_returns holds infinite values")
    if not pd.DatetimeIndex(returns.index).is_monotonic_increasing:
        raise ControllerError("strategy_returns must be in time order")


def audit_sink(
    log: AuditLog, actor: str = "meta-controller"
) -> Callable[[ControllerDecision], None]:
    """A sink that appends every decision to the audit log as ``controller.decision``.

    The payload is :meth:`ControllerDecision.to_dict` (``changed`` says whether the
    mode changed). Mode changes reach the policy through :func:`policy_sink`.
    """

    def write(decision: ControllerDecision) -> None:
        log.append(actor, "controller.decision", decision.mode, decision.to_dict())

    return write


def policy_sink(
    store: PolicyStore, actor: str = "meta-controller"
) -> Callable[[ControllerDecision], None]:
    """A sink that puts every mode change into the policy store (its history and audit
    entry carry the reasons), so risk engines reading the store apply it at their
    next check."""

    def write(decision: ControllerDecision) -> None:
        if decision.changed:
            store.set_mode(decision.mode, actor=actor, reason="; ".join(decision.reasons))

    return write


def fan_out(*sinks: Callable[[ControllerDecision], None]) -> Callable[[ControllerDecision], None]:
    """One sink calling each of ``sinks`` in order."""

    def write(decision: ControllerDecision) -> None:
        for sink in sinks:
            sink(decision)

    return write
