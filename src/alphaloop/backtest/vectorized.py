"""The vectorized simulator: target weights, orders or signals -> equity, trades, costs.

Prices come from a :class:`~alphaloop.data.panel.Panel`; decisions are (time,
asset) arrays aligned with it, where row ``t`` holds what was decided after
the close of bar ``t``. The fill timing (:class:`~alphaloop.execution.costs.
FillTiming`) moves every fill to the next bar's open by default. The bar
protocol, the stop rules and the cash rules are documented in
:mod:`alphaloop.backtest.kernel`; costs in :mod:`alphaloop.execution.costs`.

Cash rule: with ``max_leverage <= 1`` and no shorts, buys are scaled down so
that cash never goes negative, costs included (an all-in target of weight 1
buys ``cash / (price * (1 + cost rate))`` shares); explicit share orders that
need more cash than there is raise :class:`~alphaloop.errors.BacktestError`.
Otherwise cash may go negative (a margin loan) and target weights must keep
``sum |w| <= max_leverage``.

Participation cap (``participation``, off by default): at most that fraction
of a bar's volume trades per asset on the bar; the rest keeps working on the
next bars (rules in :mod:`alphaloop.backtest._capped_kernel`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from alphaloop.backtest import kernel as K  # noqa: N812
from alphaloop.backtest._participation import check_participation, participation_note
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution.costs import (
    COST_CATEGORIES,
    CostModel,
    FillTiming,
    execution_lag,
    impact_inputs,
)

__all__ = [
    "SimulationResult",
    "SweepResult",
    "drop_history",
    "simulate",
    "simulate_many",
    "simulate_signals",
]

Kind = Literal["weights", "orders"]


def drop_history(result: SimulationResult, history: int) -> SimulationResult:
    """``result`` without its first ``history`` rows (bars that fed the cost model only).

    Equity, turnover, exposure and bar costs are cut; returns are recomputed
    so the first kept bar's return is against the initial capital. Trades
    and round trips are kept as they are (history rows place no orders).
    """
    if history == 0:
        return result
    cut = slice(history, None)
    equity = result.equity.iloc[cut]
    prev = np.concatenate([[result.initial_capital], equity.to_numpy()[:-1]])
    returns = pd.Series(equity.to_numpy() / prev - 1.0, index=equity.index, name="returns")
    return replace(
        result,
        equity=equity,
        returns=returns,
        turnover=result.turnover.iloc[cut],
        gross_exposure=result.gross_exposure.iloc[cut],
        bar_costs=result.bar_costs.iloc[cut],
    )


REASONS = ("order", "stop_loss", "take_profit", "trailing_stop")


@dataclass(frozen=True)
class SimulationResult:
    """One simulated portfolio.

    Attributes
    ----------
    equity : Series
        Account value at each bar's close (currency).
    returns : Series
        Simple returns of ``equity`` per bar (first bar against the initial capital).
    turnover, gross_exposure, bar_costs : Series
        Traded notional / equity, gross position value / equity, and costs
        (currency) per bar.
    costs : dict
        Totals per category (:data:`~alphaloop.execution.costs.COST_CATEGORIES`).
    trades : DataFrame
        One row per fill: time, asset, reason, shares (signed), price,
        notional, the five fill cost categories, cash_flow.
    round_trips : DataFrame
        One row per position from flat to flat: asset, entry_time, exit_time
        (NaT while open), pnl and costs (currency, net), return (pnl over
        the entry notional), open.
    """

    equity: pd.Series
    returns: pd.Series
    turnover: pd.Series
    gross_exposure: pd.Series
    bar_costs: pd.Series
    costs: dict[str, float]
    trades: pd.DataFrame
    round_trips: pd.DataFrame
    initial_capital: float
    fills: FillTiming
    cost_model: CostModel
    has_volume: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def final_value(self) -> float:
        """Equity at the last close."""
        return float(self.equity.iloc[-1])


@dataclass(frozen=True)
class SweepResult:
    """Many portfolios over the same prices (a parameter sweep).

    Attributes
    ----------
    index : DatetimeIndex
    equity : ndarray, shape (P, T)
    costs : ndarray, shape (P, 6)
        Totals per category, columns as :data:`COST_CATEGORIES`.
    n_trades : ndarray, shape (P,)
        Fills per portfolio.
    initial_capital : float
    """

    index: pd.DatetimeIndex
    equity: np.ndarray
    costs: np.ndarray
    n_trades: np.ndarray
    initial_capital: float

    @property
    def final_value(self) -> np.ndarray:
        """Equity at the last close, per portfolio."""
        return self.equity[:, -1]

    @property
    def total_return(self) -> np.ndarray:
        """Final value over the initial capital minus one, per portfolio."""
        return self.equity[:, -1] / self.initial_capital - 1.0

    def returns(self) -> np.ndarray:
        """Simple returns per bar, shape (P, T)."""
        prev = np.concatenate(
            [np.full((self.equity.shape[0], 1), self.initial_capital), self.equity[:, :-1]],
            axis=1,
        )
        return self.equity / prev - 1.0


@dataclass(frozen=True)
class _Market:
    """Price arrays prepared once for a panel and a fill timing."""

    index: pd.DatetimeIndex
    assets: tuple[str, ...]
    exec_px: np.ndarray
    open_: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    adv: np.ndarray
    sigma: np.ndarray
    year_frac: np.ndarray
    lag: int
    at_open: bool
    has_volume: bool
    volume: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # under a cap only


_NO_VOLUME = np.empty((0, 0))  # the kernel reads volume only under a participation cap


def _field(panel: Panel, name: str) -> np.ndarray:
    values = np.ascontiguousarray(panel[name], dtype=np.float64)
    if np.isinf(values).any():
        row, col = (int(x) for x in np.argwhere(np.isinf(values))[0])
        raise BacktestError(
            f"the {name!r} of {panel.assets[col]} at {panel.index[row].isoformat()} is infinite",
            hint="repair the data; a missing value should be NaN",
        )
    return values


def _market(
    panel: Panel,
    fills: FillTiming,
    costs: CostModel,
    stops: bool,
    history: int = 0,
    participation: float | None = None,
) -> _Market:
    """Prepared arrays for rows ``history:`` of ``panel``; earlier rows feed impact inputs."""
    if not 0 <= history < max(panel.n_times, 1):
        raise BacktestError(
            f"history of {history} rows leaves no bars to trade in a panel of {panel.n_times}"
        )
    if panel.n_times - history <= 0:
        raise BacktestError("the price panel is empty: no bars in the date range")
    if "close" not in panel:
        raise BacktestError(
            f"the price panel has no 'close' field (fields: {', '.join(panel.field_names)})"
        )
    close = _field(panel, "close")
    if fills is FillTiming.NEXT_OPEN and "open" not in panel:
        raise BacktestError(
            "fills at the next open need an 'open' field; this dataset has "
            f"{', '.join(panel.field_names)}",
            hint="use fills: next_close (or --fills next_close)",
        )
    open_ = _field(panel, "open") if "open" in panel else np.full_like(close, np.nan)
    if stops and not ("high" in panel and "low" in panel):
        raise BacktestError(
            "stop loss, take profit and trailing stops are checked against each bar's "
            "high and low; this dataset has no 'high'/'low' fields"
        )
    high = _field(panel, "high") if "high" in panel else close
    low = _field(panel, "low") if "low" in panel else close
    has_volume = "volume" in panel
    if participation is not None and not has_volume:
        raise BacktestError(
            "a participation cap limits fills to a share of each bar's volume; "
            "this dataset has no 'volume' field",
            hint="drop participation or use data with volume",
        )
    volume = _field(panel, "volume") if has_volume else None
    if costs.impact == "sqrt" and volume is not None:
        adv, sigma = impact_inputs(close, volume, costs.impact_window)
    else:
        adv = sigma = np.full_like(close, np.nan)
    days = np.diff(panel.index.asi8) / 86_400e9
    year_frac = np.concatenate([[0.0], days / 365.0])[history:]
    year_frac[0] = 0.0
    h = slice(history, None)
    return _Market(
        index=panel.index[h],
        assets=panel.assets,
        exec_px=(open_ if fills is FillTiming.NEXT_OPEN else close)[h],
        open_=open_[h],
        high=high[h],
        low=low[h],
        close=close[h],
        adv=adv[h],
        sigma=sigma[h],
        volume=_NO_VOLUME if participation is None or volume is None else volume[h],
        year_frac=year_frac,
        lag=execution_lag(fills),
        at_open=fills is FillTiming.NEXT_OPEN,
        has_volume=has_volume,
    )


def _as_decisions(values: np.ndarray | pd.DataFrame, panel: Panel, what: str) -> np.ndarray:
    """(T, N) or (P, T, N) float64 aligned with ``panel``."""
    if isinstance(values, pd.DataFrame):
        extra = [a for a in values.columns if str(a) not in panel.assets]
        if extra:
            raise BacktestError(f"{what} name assets not in the data: {extra[:5]}")
        idx = pd.DatetimeIndex(values.index)
        if idx.tz is None:
            raise BacktestError(f"{what} index must be timezone-aware (UTC)")
        if not idx.isin(panel.index).all():
            bad = idx[~idx.isin(panel.index)][:3]
            raise BacktestError(f"{what} has timestamps not in the data, e.g. {list(bad)}")
        values = (
            values.rename(columns=str)
            .reindex(index=panel.index, columns=list(panel.assets))
            .to_numpy(dtype=np.float64)
        )
    arr = np.asarray(values, dtype=np.float64)
    shape = panel.shape
    if arr.shape[-2:] != shape or arr.ndim not in (2, 3):
        raise BacktestError(
            f"{what} have shape {arr.shape}; expected {shape} (time, asset) "
            f"or (portfolios, {shape[0]}, {shape[1]})"
        )
    if np.isinf(arr).any():
        *port, row, col = (int(x) for x in np.argwhere(np.isinf(arr))[0])
        where = f" (portfolio {port[0]})" if port else ""
        raise BacktestError(
            f"{what} contain an infinite value for {panel.assets[col]} at "
            f"{panel.index[row].isoformat()}{where}",
            hint="use NaN for no order on that row",
        )
    return arr


def _lots(lot_size: float | Sequence[float] | np.ndarray, n_assets: int) -> np.ndarray:
    lots = np.broadcast_to(np.asarray(lot_size, dtype=np.float64), (n_assets,)).copy()
    if not np.isfinite(lots).all() or (lots < 0).any():
        raise BacktestError("lot sizes must be finite and >= 0 (0 = fractional shares)")
    return lots


def _check_settings(initial_capital: float, max_leverage: float, stops: Sequence[float]) -> None:
    if not (np.isfinite(initial_capital) and initial_capital > 0):
        raise BacktestError(f"initial capital must be positive, got {initial_capital}")
    if not (np.isfinite(max_leverage) and max_leverage > 0):
        raise BacktestError(f"max_leverage must be positive, got {max_leverage}")
    for s in stops:
        if not (np.all(np.isfinite(s)) and np.all(np.asarray(s) >= 0)):
            raise BacktestError(f"stop levels must be fractions >= 0, got {s}")


def _raise_status(status: np.ndarray, market: _Market, portfolio: int | None) -> None:
    code, row, asset = (int(x) for x in status[:3])
    if code == K.OK:
        return
    where = f" (portfolio {portfolio})" if portfolio is not None else ""
    when = market.index[row].isoformat() if 0 <= row < len(market.index) else "?"
    name = market.assets[asset] if 0 <= asset < len(market.assets) else "?"
    messages = {
        K.ERR_PRICE: f"no valid price for {name} at {when} where an order is due{where}",
        K.ERR_CASH: (
            f"the buy order for {name} decided at {when} needs more cash than the account "
            f"holds and leverage is not allowed{where}"
        ),
        K.ERR_LEVERAGE: (
            f"target weights decided at {when} add up to more than the leverage cap{where}"
        ),
        K.ERR_SHORT: f"a short position in {name} decided at {when} but shorts are off{where}",
        K.ERR_CAPACITY: f"internal: trade record buffer too small at {when}{where}",
    }
    hints = {
        K.ERR_PRICE: "drop the asset from the targets where it has no price, or repair the data",
        K.ERR_CASH: "reduce the order or allow leverage (max_leverage > 1)",
        K.ERR_LEVERAGE: "scale the weights or raise max_leverage",
        K.ERR_SHORT: "set allow_short=True or keep targets >= 0",
    }
    raise BacktestError(messages[code], hint=hints.get(code))


def _allocate(n_port: int, n_rows: int, n_assets: int, cap: int, detail: bool) -> dict:
    width = n_rows if detail else 1
    return {
        "equity": np.empty((n_port, n_rows)),
        "turnover": np.zeros((n_port, width)),
        "gross": np.zeros((n_port, width)),
        "bar_cost": np.zeros((n_port, width)),
        "cost_tot": np.zeros((n_port, 6)),
        "trades": np.zeros((n_port, cap), dtype=K.TRADE_DTYPE),
        "round_trips": np.zeros((n_port, cap + n_assets), dtype=K.ROUND_TRIP_DTYPE),
        "n_rt": np.zeros(n_port, dtype=np.int64),
        "status": np.zeros((n_port, 4), dtype=np.int64),
    }


def _run(
    panel: Panel,
    decisions: np.ndarray,
    kind: Kind,
    fills: FillTiming | str,
    costs: CostModel,
    initial_capital: float,
    max_leverage: float,
    allow_short: bool,
    lot_size: float | Sequence[float] | np.ndarray,
    stop_loss: np.ndarray,
    take_profit: np.ndarray,
    trailing_stop: np.ndarray,
    min_trade_value: float,
    detail: bool,
    record: bool,
    history: int = 0,
    participation: float | None = None,
) -> tuple[_Market, dict]:
    if kind not in ("weights", "orders"):
        raise BacktestError(f"kind must be 'weights' or 'orders', got {kind!r}")
    fills = FillTiming(fills)
    _check_settings(initial_capital, max_leverage, [stop_loss, take_profit, trailing_stop])
    stops = bool((stop_loss > 0).any() or (take_profit > 0).any() or (trailing_stop > 0).any())
    check_participation(participation, stops)
    market = _market(panel, fills, costs, stops, history, participation)
    n_port, n_rows, n_assets = decisions.shape
    cap = 0
    if record:
        finite = int(np.isfinite(decisions).sum(axis=(1, 2)).max()) if decisions.size else 0
        cap = 2 * finite + n_assets
        if participation is not None:  # remainders fill over several bars
            cap = min(4 * cap, 2 * n_rows * n_assets + cap)
    lots = _lots(lot_size, n_assets)
    while True:
        out = _allocate(n_port, n_rows, n_assets, cap, detail)
        out["pending"] = np.zeros((n_port, n_assets))
        run = K.run_many if n_port > 1 else K.run_serial
        run(
            decisions, K.MODE_WEIGHTS if kind == "weights" else K.MODE_ORDERS, market.exec_px,
            market.open_, market.high, market.low, market.close, market.adv, market.sigma,
            market.year_frac, market.lag, market.at_open, costs.as_array(), costs.borrow_rate,
            float(initial_capital), float(max_leverage), bool(allow_short), lots, stop_loss,
            take_profit, trailing_stop, float(min_trade_value), market.volume,
            0.0 if participation is None else float(participation), out["pending"],
            out["equity"], out["turnover"], out["gross"], out["bar_cost"], out["cost_tot"],
            out["trades"], out["round_trips"], out["n_rt"], detail, record, out["status"],
        )  # fmt: skip
        if participation is None or not (out["status"][:, 0] == K.ERR_CAPACITY).any():
            break
        cap *= 2  # more capped fills than records: run again with room for them
    for p in range(n_port):
        _raise_status(out["status"][p], market, p if n_port > 1 else None)
    return market, out


def _per_portfolio(
    value: float | Sequence[float] | np.ndarray, n_port: int, name: str
) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n_port, float(arr))
    if arr.shape != (n_port,):
        raise BacktestError(f"{name} has shape {arr.shape}; expected a scalar or ({n_port},)")
    return np.ascontiguousarray(arr)


def _trades_frame(market: _Market, trades: np.ndarray) -> pd.DataFrame:
    """``SimulationResult.trades`` from the kernel's fill records (:data:`kernel.TRADE_DTYPE`)."""
    shares = trades["shares"]
    price = trades["price"]
    columns = {
        "time": market.index[trades["row"]],
        "asset": pd.Categorical.from_codes(trades["asset"], categories=market.assets)
        if len(trades)
        else pd.Categorical([], categories=market.assets),
        "reason": np.array(REASONS, dtype=object)[trades["reason"]],
        "shares": shares,
        "price": price,
        "notional": np.abs(shares) * price,
    }
    for name in (*COST_CATEGORIES[:5], "cash_flow"):
        columns[name] = trades[name]
    # orders trade at the open or close as market orders; a take-profit rested since the entry
    take_profit = trades["reason"] == REASONS.index("take_profit")
    columns["liquidity"] = np.where(take_profit, "maker", "taker").astype(object)
    return pd.DataFrame(columns)  # one constructor call: inserting columns one by one is slow


def _round_trips_frame(market: _Market, trips: np.ndarray) -> pd.DataFrame:
    """``SimulationResult.round_trips`` from the kernel's round-trip records."""
    is_open = trips["exit_row"] < 0
    exit_rows = np.where(is_open, 0, trips["exit_row"])
    exits = pd.Series(market.index[exit_rows]).where(~is_open)
    notional = trips["entry_notional"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(notional > 0, trips["pnl"] / notional, np.nan)
    return pd.DataFrame(
        {
            "asset": [market.assets[j] for j in trips["asset"]],
            "entry_time": market.index[trips["entry_row"]],
            "exit_time": pd.DatetimeIndex(exits),
            "pnl": trips["pnl"],
            "costs": trips["costs"],
            "return": ret,
            "open": is_open,
        }
    )


def simulate(
    panel: Panel,
    decisions: np.ndarray | pd.DataFrame,
    *,
    kind: Kind = "weights",
    fills: FillTiming | str = FillTiming.NEXT_OPEN,
    costs: CostModel | None = None,
    initial_capital: float = 1_000_000.0,
    max_leverage: float = 1.0,
    allow_short: bool = False,
    lot_size: float | Sequence[float] | np.ndarray = 0.0,
    stop_loss: float = 0.0,
    take_profit: float = 0.0,
    trailing_stop: float = 0.0,
    min_trade_value: float = 0.0,
    history: int = 0,
    participation: float | None = None,
) -> SimulationResult:
    """Simulate one portfolio.

    Parameters
    ----------
    panel : Panel
        Prices: ``close`` always; ``open`` for next-open fills; ``high`` and
        ``low`` for stops; ``volume`` for market impact.
    decisions : ndarray or DataFrame, shape (time, asset)
        ``kind="weights"``: target weights of equity (NaN = leave the asset as
        it is on that row; a row of NaN = no rebalance). ``kind="orders"``:
        signed share quantities to trade (NaN or 0 = none).
    fills : FillTiming, default next_open
    costs : CostModel, default CostModel()
        Realistic US-equity costs; pass ``CostModel.zero()`` only on purpose.
    initial_capital : float, default 1e6
    max_leverage : float, default 1.0
        Cap on ``sum |w|`` of target weights; above 1 cash may go negative.
    allow_short : bool, default False
    lot_size : float or per-asset array, default 0 (fractional shares)
        Share quantities are rounded toward zero to multiples of it.
    stop_loss, take_profit, trailing_stop : float, default 0 (off)
        Fractions of the entry price (trailing: of the best price since entry).
    min_trade_value : float, default 0
        Skip rebalancing trades smaller than this notional (exits always trade).
    history : int, default 0
        Leading rows of ``panel`` that are history only (they feed the
        impact model's volume and volatility); ``decisions`` and the results
        cover the rows after them.
    participation : float in (0, 1], optional
        At most this fraction of a bar's ``volume`` trades per asset on that
        bar; what does not fit keeps working on the following bars until it
        is done or a new target for the asset replaces it (orders: a new
        order adds to it). None (default) = no cap. Needs ``volume``; not
        with stops. See :mod:`alphaloop.backtest._capped_kernel`.

    Returns
    -------
    SimulationResult
    """
    costs = costs or CostModel()
    arr = _as_decisions(decisions, panel.iloc(slice(history, None)), "decisions")
    if arr.ndim != 2:
        raise BacktestError("simulate takes one portfolio (time, asset); use simulate_many")
    market, out = _run(
        panel, arr[None], kind, fills, costs, initial_capital, max_leverage, allow_short,
        lot_size, np.array([stop_loss], dtype=float), np.array([take_profit], dtype=float),
        np.array([trailing_stop], dtype=float), min_trade_value, True, True, history,
        participation,
    )  # fmt: skip
    return _single_result(market, out, initial_capital, FillTiming(fills), costs, participation)


def _single_result(
    market: _Market,
    out: dict,
    initial_capital: float,
    fills: FillTiming,
    costs: CostModel,
    participation: float | None = None,
) -> SimulationResult:
    idx = market.index
    equity = pd.Series(out["equity"][0], index=idx, name="equity")
    prev = np.concatenate([[initial_capital], equity.to_numpy()[:-1]])
    returns = pd.Series(equity.to_numpy() / prev - 1.0, index=idx, name="returns")
    n_tr = int(out["status"][0, 3])
    n_rt = int(out["n_rt"][0])
    notes = []
    if costs.impact == "sqrt" and not market.has_volume:
        notes.append("market impact not modelled: the dataset has no volume")
    if fills.optimistic:
        notes.append("OPTIMISTIC fills at the signal bar's close")
    if participation is not None:
        notes.append(participation_note(market.assets, out["pending"][0], participation))
    return SimulationResult(
        equity=equity,
        returns=returns,
        turnover=pd.Series(out["turnover"][0], index=idx, name="turnover"),
        gross_exposure=pd.Series(out["gross"][0], index=idx, name="gross_exposure"),
        bar_costs=pd.Series(out["bar_cost"][0], index=idx, name="costs"),
        costs={k: float(v) for k, v in zip(COST_CATEGORIES, out["cost_tot"][0], strict=True)},
        trades=_trades_frame(market, out["trades"][0, :n_tr]),
        round_trips=_round_trips_frame(market, out["round_trips"][0, :n_rt]),
        initial_capital=float(initial_capital),
        fills=fills,
        cost_model=costs,
        has_volume=market.has_volume,
        notes=tuple(notes),
    )


def simulate_many(
    panel: Panel,
    decisions: np.ndarray,
    *,
    kind: Kind = "weights",
    fills: FillTiming | str = FillTiming.NEXT_OPEN,
    costs: CostModel | None = None,
    initial_capital: float = 1_000_000.0,
    max_leverage: float = 1.0,
    allow_short: bool = False,
    lot_size: float | Sequence[float] | np.ndarray = 0.0,
    stop_loss: float | Sequence[float] | np.ndarray = 0.0,
    take_profit: float | Sequence[float] | np.ndarray = 0.0,
    trailing_stop: float | Sequence[float] | np.ndarray = 0.0,
    min_trade_value: float = 0.0,
    participation: float | None = None,
) -> SweepResult:
    """Simulate P portfolios (a parameter sweep) over the same prices, in parallel.

    ``decisions`` is (P, time, asset); stop levels may be scalars or (P,)
    arrays. Only equity, cost totals and fill counts are kept, to save memory;
    run :func:`simulate` on a chosen portfolio for its trades. ``participation``
    caps every portfolio's fills as in :func:`simulate`.
    """
    costs = costs or CostModel()
    arr = _as_decisions(decisions, panel, "decisions")
    if arr.ndim != 3:
        raise BacktestError("simulate_many takes (portfolios, time, asset) decisions")
    n_port = arr.shape[0]
    market, out = _run(
        panel, arr, kind, fills, costs, initial_capital, max_leverage, allow_short, lot_size,
        _per_portfolio(stop_loss, n_port, "stop_loss"),
        _per_portfolio(take_profit, n_port, "take_profit"),
        _per_portfolio(trailing_stop, n_port, "trailing_stop"), min_trade_value, False, False,
        0, participation,
    )  # fmt: skip
    return SweepResult(
        index=market.index,
        equity=out["equity"],
        costs=out["cost_tot"],
        n_trades=out["status"][:, 3].copy(),
        initial_capital=float(initial_capital),
    )


def _as_signals(values: np.ndarray | pd.DataFrame | None, shape: tuple[int, ...], what: str):
    if values is None:
        return np.zeros(shape, dtype=np.bool_)
    arr = np.asarray(values)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape != shape:
        raise BacktestError(f"{what} have shape {arr.shape}; expected {shape}")
    if arr.dtype != np.bool_:
        raise BacktestError(f"{what} must be boolean arrays, got {arr.dtype}")
    return np.ascontiguousarray(arr)


def simulate_signals(
    panel: Panel,
    entries: np.ndarray | pd.DataFrame,
    exits: np.ndarray | pd.DataFrame,
    *,
    short_entries: np.ndarray | pd.DataFrame | None = None,
    short_exits: np.ndarray | pd.DataFrame | None = None,
    size: float = 1.0,
    **kwargs: object,
) -> SimulationResult | SweepResult:
    """Simulate entry/exit signals: each entry targets ``size`` of equity, each exit 0.

    Signals on row ``t`` are decided after bar ``t``'s close and fill per
    ``fills`` (next open by default). Entries while already in a position and
    exits while flat are ignored (see :func:`kernel.signals_to_targets`).
    Arrays of shape (time, asset) give a :class:`SimulationResult`; (P, time,
    asset) give a :class:`SweepResult`. Other keyword arguments are those of
    :func:`simulate`.
    """
    if isinstance(entries, pd.DataFrame):
        entries = entries.to_numpy()
    if isinstance(exits, pd.DataFrame):
        exits = exits.to_numpy()
    ent = np.asarray(entries)
    single = ent.ndim == 2
    shape = (1, *ent.shape) if single else ent.shape
    if shape[1:] != panel.shape:
        raise BacktestError(
            f"entries have shape {ent.shape}; expected {panel.shape} (time, asset) or "
            f"(portfolios, {panel.shape[0]}, {panel.shape[1]})"
        )
    if not (np.isfinite(size) and size > 0):
        raise BacktestError(f"size must be a positive fraction of equity, got {size}")
    args = [
        _as_signals(v, shape, w)
        for v, w in (
            (entries, "entries"),
            (exits, "exits"),
            (short_entries, "short_entries"),
            (short_exits, "short_exits"),
        )
    ]
    targets = np.empty(shape, dtype=np.float64)
    if shape[0] == 1:  # one portfolio: no thread pool
        K.signal_targets(*(a[0] for a in args), float(size), targets[0])
    else:
        K.signals_to_targets(*args, float(size), targets)
    if single:
        return simulate(panel, targets[0], kind="weights", **kwargs)  # type: ignore[arg-type]
    return simulate_many(panel, targets, kind="weights", **kwargs)  # type: ignore[arg-type]
