"""``EnvConfig``: every setting of a trading environment, typed and checked.

A config is a frozen pydantic model (unknown fields refused), so an
environment is described by data that can be stored with a trained policy
and rebuilt later. The defaults are the honest ones: costs on (the
backtester's US-equity model), fills at the next bar's open, long-only, a
seed.

Conventions
-----------
- Weights are fractions of equity; ``max_leverage`` caps ``sum |w|``.
- Discrete actions pick one of ``levels`` per asset; a level ``l`` is the
  target weight ``l * max_leverage / n_assets`` (one asset: ``l *
  max_leverage``), so "all long" is fully invested.
- Continuous actions are target weights in ``[-1, 1]`` per asset, scaled by
  ``max_leverage`` and projected (Euclidean) onto the long-only set ``{w >=
  0, sum w <= max_leverage}`` or, with shorts, the gross-limited set
  ``{sum |w| <= max_leverage}``.
- ``span`` names the rows an environment may use: ``"train"``,
  ``"validation"`` or ``"test"`` (purged splits of the loaded data, see
  :func:`alphaloop.rl.split_spans`), ``"all"``, two dates (inclusive) or
  two row numbers (inclusive). Decisions are taken on every row of the
  span but its last, whose close only marks the last fill.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alphaloop.execution.costs import CostModel, FillTiming

__all__ = ["ActionKind", "EnvConfig", "RewardKind", "SpanName"]

ActionKind = Literal["discrete", "continuous"]
RewardKind = Literal["pnl", "log_return", "differential_sharpe", "drawdown_penalised"]
SpanName = Literal["train", "validation", "test", "all"]
Normalize = Literal["expanding", "ewm", "none"]


class EnvConfig(BaseModel):
    """Settings of :class:`~alphaloop.rl.TradingEnv` and :class:`~alphaloop.rl.VecTradingEnv`.

    Parameters
    ----------
    dataset : str, optional
        Dataset name in the workspace catalog (the environment loads it through
        the catalog, which stops before the sealed holdout). Not needed when a
        Panel is passed.
    assets : tuple of str, optional
        Assets to trade (default: every asset of the data). One asset makes the
        single-asset variant (a ``Discrete`` action space).
    span : {"train", "validation", "test", "all"} or (start, end), default "train"
        See the module conventions.
    validation_fraction, test_fraction : float, default 0.15
        Shares of the rows in the validation and test spans (the last rows).
    embargo : float, default 0.01
        Share of the rows dropped before each later span, on top of the purge.
    features : str, list of str or dict, optional
        Factor expressions (Qlib syntax, ``Factor("alpha158/KMID")`` for
        library factors) or the name of a factor library; each is one
        observation block of ``n_assets`` values.
    returns : int, default 5
        Past one-bar log returns per asset in the observation (0 = none).
    normalize : {"expanding", "ewm", "none"}, default "expanding"
        Causal running normalization of every market value per asset: the mean
        and standard deviation of its history up to and including the bar
        (``"ewm"``: exponentially weighted, half-life ``norm_halflife`` bars).
    norm_halflife : int, default 63
    norm_min_periods : int, default 20
        Bars of history before a normalized value exists (NaN before).
    obs_clip : float, default 10.0
        Normalized values are clipped to ``[-obs_clip, obs_clip]``.
    stack : int, default 1
        Bars of market values stacked in one observation (oldest first).
    action : {"discrete", "continuous"}, default "discrete"
    levels : tuple of float, optional
        Discrete levels (default ``(-1, 0, 1)`` with shorts: short, flat, long;
        ``(0, 1)`` without).
    allow_short : bool, default False
    max_leverage : float, default 1.0
    reward : {"pnl", "log_return", "differential_sharpe", "drawdown_penalised"}
        ``pnl``: equity change over the initial capital; ``log_return``;
        ``differential_sharpe``: Moody and Saffell's differential Sharpe ratio
        with rate ``sharpe_eta``; ``drawdown_penalised``: the log return minus
        ``drawdown_penalty`` times the increase of the drawdown. Costs are
        always inside: every reward is computed from equity after costs.
    reward_scale : float, default 1.0
    costs : CostModel, default CostModel()
        The backtester's cost model (commission, fees, spread, slippage,
        square-root impact, borrow).
    fills : FillTiming, default "next_open"
        ``next_open`` or ``next_close`` fill at bar ``t + 1``; ``same_close``
        (optimistic, labelled so) at the close the decision saw.
    participation : float in (0, 1], optional
        At most this fraction of the fill bar's volume trades per asset; what
        does not fit keeps working on the next steps until it is done or a
        new target for the asset replaces it (the vectorized backtester's
        rule, :func:`alphaloop.backtest.simulate`). None (default) = no cap;
        needs data with volume.
    initial_capital : float, default 1e6
    lot_size : float, default 0 (fractional shares)
    min_trade_value : float, default 0
        Trades below this notional are skipped (exits always trade).
    hold_unchanged : bool, default True
        An action whose target weights equal the previous step's sends no
        orders (the position drifts), as a target-weight backtest that only
        rebalances on change.
    episode_length : int, optional, default 252
        Decisions per episode (None: the whole span, from its first usable bar).
    start : {"random", "first"}, default "random"
        Episode start: uniform over the span's usable bars, or its first one.
    warmup : int, optional
        Bars from the span start before the first decision; default (None): the
        first bar where every observation value exists.
    nan_policy : {"raise", "zero"}, default "raise"
        Missing observation values after the warm-up: raise, or replace with 0
        with a recorded :class:`~alphaloop.rl.RLObservationWarning`.
    seed : int, default 0
        Seed of episode starts when ``reset`` is not given one.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str | None = None
    assets: tuple[str, ...] | None = None
    span: SpanName | tuple[str, str] | tuple[int, int] = "train"
    validation_fraction: float = Field(0.15, ge=0.0, lt=0.5)
    test_fraction: float = Field(0.15, ge=0.0, lt=0.5)
    embargo: float = Field(0.01, ge=0.0, lt=0.2)
    features: str | tuple[str, ...] | dict[str, str] | None = None
    returns: int = Field(5, ge=0, le=250)
    normalize: Normalize = "expanding"
    norm_halflife: int = Field(63, ge=1)
    norm_min_periods: int = Field(20, ge=1)
    obs_clip: float = Field(10.0, gt=0, allow_inf_nan=False)
    stack: int = Field(1, ge=1, le=250)
    action: ActionKind = "discrete"
    levels: tuple[float, ...] | None = None
    allow_short: bool = False
    max_leverage: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)
    reward: RewardKind = "log_return"
    reward_scale: float = Field(1.0, gt=0, allow_inf_nan=False)
    sharpe_eta: float = Field(0.01, gt=0, lt=1)
    drawdown_penalty: float = Field(1.0, ge=0, allow_inf_nan=False)
    costs: CostModel = Field(default_factory=CostModel)
    fills: FillTiming = FillTiming.NEXT_OPEN
    participation: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    initial_capital: float = Field(1_000_000.0, gt=0, allow_inf_nan=False)
    lot_size: float = Field(0.0, ge=0, allow_inf_nan=False)
    min_trade_value: float = Field(0.0, ge=0, allow_inf_nan=False)
    hold_unchanged: bool = True
    episode_length: int | None = Field(252, ge=1)
    start: Literal["random", "first"] = "random"
    warmup: int | None = Field(None, ge=0)
    nan_policy: Literal["raise", "zero"] = "raise"
    seed: int = Field(0, ge=0)

    @field_validator("features", mode="before")
    @classmethod
    def _features_tuple(cls, value: object) -> object:
        if isinstance(value, list):
            return tuple(value)
        return value

    @field_validator("span", mode="before")
    @classmethod
    def _span_dates(cls, value: object) -> object:
        # YAML reads 2005-01-03 as a date: take dates as ISO text
        if isinstance(value, list | tuple) and len(value) == 2:
            return tuple(
                v.isoformat() if isinstance(v, dt.date | pd.Timestamp) else v for v in value
            )
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> EnvConfig:
        if self.validation_fraction + self.test_fraction >= 0.8:
            raise ValueError(
                "validation_fraction + test_fraction must leave at least 20% of the rows "
                "for training"
            )
        if self.levels is not None:
            if len(self.levels) < 2:
                raise ValueError("levels needs at least two values (e.g. [0, 1])")
            if any(abs(v) > 1.0 for v in self.levels):
                raise ValueError(
                    "levels are fractions of max_leverage in [-1, 1]; scale with max_leverage"
                )
            if not self.allow_short and any(v < 0 for v in self.levels):
                raise ValueError("negative levels need allow_short: true")
        if self.features is not None and not self.features:
            raise ValueError("features is empty; leave it out for returns only")
        if self.features is None and self.returns == 0:
            raise ValueError("the observation needs features or returns (returns >= 1)")
        if isinstance(self.span, tuple) and type(self.span[0]) is not type(self.span[1]):
            raise ValueError("span takes two dates or two row numbers, not a mix")
        return self

    @property
    def action_levels(self) -> tuple[float, ...]:
        """The discrete levels in use (the default when ``levels`` is not set)."""
        if self.levels is not None:
            return self.levels
        return (-1.0, 0.0, 1.0) if self.allow_short else (0.0, 1.0)
