"""A plain-Python reference of the vectorized simulator's documented semantics.

Slow and simple on purpose: one bar at a time, one asset at a time, Python
floats, a small :class:`Position` record per held asset, and costs written
out by hand from :mod:`alphaloop.execution.costs`'s conventions. The tests run
it next to :func:`alphaloop.backtest.vectorized.simulate` on random panels and
require the same equity, fills, round trips and cost totals.

The rules it implements (the docstrings of :mod:`alphaloop.backtest.kernel`
and :mod:`alphaloop.backtest.vectorized`):

- Decisions of row ``d`` fill on row ``d + lag`` (lag 0 for ``same_close``,
  else 1) at the open (``next_open``) or the close (otherwise).
- ``next_open``: fills at the open, then stops, then the mark at the close.
  Close fills: stops first, then fills at the close, then the mark.
- Weights mode: a row with any target rebalances. Equity is valued at the
  fill prices (the last close where an asset has none); ``sum |w|`` over the
  targets plus the current weights of untouched assets must stay within the
  leverage cap; target shares ``w * equity / price`` are rounded toward zero
  to the lot size; trades smaller than ``min_trade_value`` are skipped unless
  they close the position, and trades worth at most 1e-10 of equity (float
  dust from restating an unchanged weight) are skipped. Orders mode: each
  finite, non-zero quantity is traded (rounded to the lot size).
- Sells fill before buys. Without leverage and shorts, buys that need more
  cash than there is (costs included) are scaled down toward the current
  holdings in weights mode, repeating ``scale *= cash / need`` (at most 8
  times, as the kernel does); if lot rounding still keeps them above the
  cash, the largest scale whose rounded buys fit (bisection). Orders mode
  refuses them.
- ``history`` leading rows only feed the impact model's volume and volatility.
- Stops, take-profits and trailing stops as fractions of the entry price (of
  the best price since entry up to the previous bar for trailing); an open
  beyond a level fills at the open (not for a position opened at that very
  open); stop before take-profit when both are touched.
- Borrow on short value at each close for the calendar days since the previous bar.
- Round trips run from flat to flat; a reversal closes one and opens the next,
  splitting the fill's cash flow and costs pro rata.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

from alphaloop.data.panel import Panel
from alphaloop.execution.costs import CostModel, FillTiming

# Error names, as the kernel's status codes: (name, row, asset); asset -1 = none.
PRICE, CASH, LEVERAGE, SHORT = "price", "cash", "leverage", "short"


@dataclass
class Fill:
    """One fill, as a row of ``SimulationResult.trades``."""

    row: int
    asset: int
    reason: str
    shares: float
    price: float
    costs: tuple[float, float, float, float, float]  # commission, fees, spread, slippage, impact
    cash_flow: float


@dataclass
class RoundTrip:
    """One position from flat to flat; ``exit_row`` None while open."""

    asset: int
    entry_row: int
    exit_row: int | None
    pnl: float
    costs: float
    entry_notional: float


@dataclass
class Position:
    """A held position and the running totals of its round trip."""

    shares: float
    entry_price: float
    peak: float  # best price since entry: highest high (long) or lowest low (short)
    entry_row: int
    cash_flows: float
    costs: float
    entry_notional: float


@dataclass
class Result:
    """What the reference computes; ``error`` is set (and the rest partial) on failure."""

    equity: list[float] = field(default_factory=list)
    turnover: list[float] = field(default_factory=list)
    gross: list[float] = field(default_factory=list)
    bar_costs: list[float] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    round_trips: list[RoundTrip] = field(default_factory=list)
    costs: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("commission", "fees", "spread", "slippage", "impact", "borrow"), 0.0
        )
    )
    error: tuple[str, int, int] | None = None
    paths: set[str] = field(default_factory=set)  # rules that fired, for test coverage


class _StopError(Exception):
    """Raised inside the simulation to end it with an error."""

    def __init__(self, name: str, row: int, asset: int) -> None:
        super().__init__(name)
        self.where = (name, row, asset)


def fill_costs(
    model: CostModel, shares: float, price: float, adv: float, sigma: float
) -> tuple[float, float, float, float, float]:
    """Commission, fees, spread, slippage and impact of one fill, from the docs."""
    q = abs(shares)
    if q == 0.0:
        return (0.0, 0.0, 0.0, 0.0, 0.0)
    notional = q * price
    commission = model.commission_per_share * q
    if model.commission_per_share > 0 and commission < model.commission_min:
        commission = model.commission_min
    commission += model.commission_bps * 1e-4 * notional
    impact = 0.0
    if model.impact == "sqrt" and adv > 0 and sigma > 0:  # False for NaN
        impact = model.impact_coef * sigma * math.sqrt(q / adv) * notional
    return (
        commission,
        model.exchange_fee_bps * 1e-4 * notional,
        model.half_spread_bps * 1e-4 * notional,
        model.slippage_bps * 1e-4 * notional,
        impact,
    )


def impact_history(
    close: np.ndarray, volume: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean volume and sample std of simple returns over the ``window`` bars before each row."""
    n_rows, n_assets = close.shape
    adv = np.full((n_rows, n_assets), np.nan)
    sigma = np.full((n_rows, n_assets), np.nan)
    for j in range(n_assets):
        for r in range(window, n_rows):
            vols = [float(v) for v in volume[r - window : r, j]]
            if all(math.isfinite(v) for v in vols):
                adv[r, j] = statistics.fmean(vols)
            rets = [
                float(close[k, j] / close[k - 1, j] - 1.0) if k >= 1 else math.nan
                for k in range(r - window, r)
            ]
            if all(math.isfinite(x) for x in rets):
                sigma[r, j] = statistics.stdev(rets)
    return adv, sigma


def _round_down_to_lot(quantity: float, lot: float) -> float:
    return math.trunc(quantity / lot) * lot if lot > 0 else quantity


def _known(x: float) -> bool:
    return not math.isnan(x)


class _Account:
    """Cash, positions and the records of one simulation."""

    def __init__(self, cash: float, costs: CostModel, adv: np.ndarray, sigma: np.ndarray):
        self.cash = cash
        self.model = costs
        self.adv = adv
        self.sigma = sigma
        self.positions: dict[int, Position] = {}
        self.out = Result()
        self.bar_notional = 0.0
        self.bar_cost = 0.0

    def shares(self, j: int) -> float:
        pos = self.positions.get(j)
        return pos.shares if pos else 0.0

    def costs_of(self, r: int, j: int, dq: float, price: float) -> float:
        return sum(fill_costs(self.model, dq, price, self.adv[r, j], self.sigma[r, j]))

    def fill(self, r: int, j: int, dq: float, price: float, reason: str) -> None:
        parts = fill_costs(self.model, dq, price, self.adv[r, j], self.sigma[r, j])
        total = sum(parts)
        flow = -dq * price - total
        self.cash += flow
        for name, value in zip(
            ("commission", "fees", "spread", "slippage", "impact"), parts, strict=True
        ):
            self.out.costs[name] += value
        self.bar_notional += abs(dq) * price
        self.bar_cost += total
        self.out.fills.append(Fill(r, j, reason, dq, price, parts, flow))

        pos = self.positions.get(j)
        if pos is None:
            self._open(r, j, dq, price, flow, total)
            return
        before = pos.shares
        after = before + dq
        if abs(after) < 1e-12 * (abs(before) + abs(dq)):
            after = 0.0
        if after == 0.0 or (after > 0) != (before > 0):
            # closes the position (and maybe opens the opposite one): split pro rata
            closing = abs(before) / abs(dq)
            self.out.round_trips.append(
                RoundTrip(
                    j,
                    pos.entry_row,
                    r,
                    pos.cash_flows + flow * closing,
                    pos.costs + total * closing,
                    pos.entry_notional,
                )
            )
            del self.positions[j]
            if after != 0.0:
                self.out.paths.add("reversal")
                self._open(r, j, after, price, flow * (1 - closing), total * (1 - closing))
            return
        pos.cash_flows += flow
        pos.costs += total
        if abs(after) > abs(before):  # adding: average the entry price
            pos.entry_price = (before * pos.entry_price + dq * price) / after
            pos.entry_notional += abs(dq) * price
        pos.shares = after

    def _open(self, r: int, j: int, q: float, price: float, flow: float, cost: float) -> None:
        self.positions[j] = Position(q, price, price, r, flow, cost, abs(q) * price)


def _stop_exit(
    pos: Position, open_: float, high: float, low: float, fresh: bool, sl: float, tp: float,
    trail: float,
) -> tuple[float, str] | None:  # fmt: skip
    """The exit price and reason if a stop or take-profit fires in this bar; else move the peak."""
    if pos.shares > 0:
        stop, why = (pos.entry_price * (1 - sl), "stop_loss") if sl > 0 else (-math.inf, "")
        if trail > 0 and pos.peak * (1 - trail) > stop:
            stop, why = pos.peak * (1 - trail), "trailing_stop"
        target = pos.entry_price * (1 + tp) if tp > 0 else math.inf
        gap_open = _known(open_) and not fresh
        if gap_open and open_ <= stop:
            return open_, why
        if gap_open and open_ >= target:
            return open_, "take_profit"
        if low <= stop:
            return stop, why
        if high >= target:
            return target, "take_profit"
        pos.peak = max(pos.peak, high)
        return None
    stop, why = (pos.entry_price * (1 + sl), "stop_loss") if sl > 0 else (math.inf, "")
    if trail > 0 and pos.peak * (1 + trail) < stop:
        stop, why = pos.peak * (1 + trail), "trailing_stop"
    target = pos.entry_price * (1 - tp) if tp > 0 else -math.inf
    gap_open = _known(open_) and not fresh
    if gap_open and open_ >= stop:
        return open_, why
    if gap_open and open_ <= target:
        return open_, "take_profit"
    if high >= stop:
        return stop, why
    if low <= target:
        return target, "take_profit"
    pos.peak = min(pos.peak, low)
    return None


def simulate_reference(
    panel: Panel,
    decisions: np.ndarray,
    *,
    kind: str = "weights",
    fills: str = "next_open",
    costs: CostModel | None = None,
    initial_capital: float = 1_000_000.0,
    max_leverage: float = 1.0,
    allow_short: bool = False,
    lot_size: float | list[float] = 0.0,
    stop_loss: float = 0.0,
    take_profit: float = 0.0,
    trailing_stop: float = 0.0,
    min_trade_value: float = 0.0,
    history: int = 0,
) -> Result:
    """Simulate like :func:`~alphaloop.backtest.vectorized.simulate`, slowly and plainly."""
    model = costs or CostModel()
    timing = FillTiming(fills)
    if model.impact == "sqrt" and "volume" in panel:
        adv, sigma = impact_history(
            np.asarray(panel["close"]), np.asarray(panel["volume"]), model.impact_window
        )
        adv, sigma = adv[history:], sigma[history:]
    else:
        adv = sigma = np.full((panel.n_times - history, panel.n_assets), np.nan)
    panel = panel.iloc(slice(history, None))
    n_rows, n_assets = panel.shape
    close = np.asarray(panel["close"], dtype=float)
    open_ = np.asarray(panel["open"], dtype=float) if "open" in panel else close * np.nan
    high = np.asarray(panel["high"], dtype=float) if "high" in panel else close
    low = np.asarray(panel["low"], dtype=float) if "low" in panel else close
    fill_px = open_ if timing is FillTiming.NEXT_OPEN else close
    lag = 0 if timing is FillTiming.SAME_CLOSE else 1
    at_open = timing is FillTiming.NEXT_OPEN
    lots = [float(x) for x in np.broadcast_to(np.asarray(lot_size, dtype=float), (n_assets,))]
    stops_on = stop_loss > 0 or take_profit > 0 or trailing_stop > 0
    cash_only = max_leverage <= 1 and not allow_short
    acct = _Account(initial_capital, model, adv, sigma)
    last_close = [math.nan] * n_assets

    def check_stops(r: int) -> None:
        for j in range(n_assets):
            pos = acct.positions.get(j)
            if pos is None or math.isnan(high[r, j]) or math.isnan(low[r, j]):
                continue
            fresh = at_open and pos.entry_row == r
            hit = _stop_exit(
                pos, open_[r, j], high[r, j], low[r, j], fresh, stop_loss, take_profit,
                trailing_stop,
            )  # fmt: skip
            if hit is not None:
                if hit[0] == open_[r, j]:
                    acct.out.paths.add("stop filled at the open")
                acct.fill(r, j, -pos.shares, hit[0], hit[1])

    def trade(r: int) -> None:
        d = r - lag
        if d < 0 or all(math.isnan(x) for x in decisions[d]):
            return
        px = [float(x) for x in fill_px[r]]
        if kind == "weights":
            orders = weight_orders(r, d, px)
            if orders is None:
                return
            wanted, delta = orders
        else:
            wanted, delta = {}, share_orders(r, d, px)
        for j in range(n_assets):  # sells first, so that they fund the buys
            if delta[j] < 0:
                acct.fill(r, j, delta[j], px[j], "order")
        if cash_only:
            fit_buys_to_cash(r, d, px, wanted, delta)
        for j in range(n_assets):
            if delta[j] > 0:
                acct.fill(r, j, delta[j], px[j], "order")

    def weight_orders(r: int, d: int, px: list[float]) -> tuple[dict, list[float]] | None:
        def price_or_last(j: int) -> float:
            return px[j] if _known(px[j]) else last_close[j]

        equity = acct.cash + sum(p.shares * price_or_last(j) for j, p in acct.positions.items())
        if equity <= 0:
            return None  # ruined: nothing to size from
        leverage = 0.0
        for j in range(n_assets):
            w = decisions[d, j]
            if _known(w):
                if w < 0 and not allow_short:
                    raise _StopError(SHORT, d, j)
                leverage += abs(w)
            elif j in acct.positions:
                leverage += abs(acct.shares(j) * price_or_last(j)) / equity
        if leverage > max_leverage * (1 + 1e-9) + 1e-12:
            raise _StopError(LEVERAGE, d, -1)
        wanted = {}
        delta = [0.0] * n_assets
        for j in range(n_assets):
            w = float(decisions[d, j])
            if math.isnan(w):
                continue
            if not px[j] > 0:
                if w != 0 or acct.shares(j) != 0:
                    raise _StopError(PRICE, r, j)
                continue
            target = _round_down_to_lot(w * equity / px[j], lots[j])
            dq = target - acct.shares(j)
            if abs(dq) * px[j] <= 1e-10 * equity:
                continue  # already there, up to float dust
            if target != 0 and abs(dq) * px[j] < min_trade_value:
                acct.out.paths.add("small trade skipped")
                continue
            delta[j] = dq
            wanted[j] = w * equity / px[j]
        return wanted, delta

    def share_orders(r: int, d: int, px: list[float]) -> list[float]:
        delta = [0.0] * n_assets
        for j in range(n_assets):
            q = float(decisions[d, j])
            if math.isnan(q) or q == 0:
                continue
            if not px[j] > 0:
                raise _StopError(PRICE, r, j)
            if not allow_short and acct.shares(j) + q < -1e-9 * abs(q):
                raise _StopError(SHORT, d, j)
            delta[j] = _round_down_to_lot(q, lots[j])
        return delta

    def fit_buys_to_cash(
        r: int, d: int, px: list[float], wanted: dict[int, float], delta: list[float]
    ) -> None:
        def need() -> float:
            return sum(
                delta[j] * px[j] + acct.costs_of(r, j, delta[j], px[j])
                for j in range(n_assets)
                if delta[j] > 0
            )

        def fits(amount: float) -> bool:
            return amount <= acct.cash * (1 + 1e-12) + 1e-9

        amount = need()
        if fits(amount):
            return
        if kind == "orders":
            raise _StopError(CASH, d, next(j for j in range(n_assets) if delta[j] > 0))
        acct.out.paths.add("buys scaled to the cash")
        scale = acct.cash / amount if acct.cash > 0 else 0.0
        for _ in range(8):
            for j in range(n_assets):
                if delta[j] > 0:
                    held = acct.shares(j)
                    delta[j] = _round_down_to_lot(held + (wanted[j] - held) * scale, lots[j]) - held
            amount = need()
            if fits(amount):
                return
            scale *= acct.cash / amount if acct.cash > 0 else 0.0
        # lot rounding can keep the buys above the cash: the largest scale that fits
        buying = [j for j in range(n_assets) if delta[j] > 0]
        held = {j: acct.shares(j) for j in buying}

        def buys_at(s: float) -> dict[int, float]:
            return {
                j: _round_down_to_lot(held[j] + (wanted[j] - held[j]) * s, lots[j]) - held[j]
                for j in buying
            }

        def need_at(s: float) -> float:
            return sum(
                q * px[j] + acct.costs_of(r, j, q, px[j]) for j, q in buys_at(s).items() if q > 0
            )

        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if fits(need_at(mid)) else (lo, mid)
        for j, q in buys_at(lo).items():
            delta[j] = q

    def mark(r: int) -> None:
        days = 0.0 if r == 0 else (panel.index[r] - panel.index[r - 1]).total_seconds() / 86_400
        value = gross = 0.0
        for j in range(n_assets):
            if _known(close[r, j]):
                last_close[j] = float(close[r, j])
            pos = acct.positions.get(j)
            if pos is None:
                continue
            v = pos.shares * last_close[j]
            value += v
            gross += abs(v)
            if pos.shares < 0 and model.borrow_bps_annual > 0:
                fee = -v * model.borrow_bps_annual * 1e-4 * days / 365
                acct.cash -= fee
                acct.out.costs["borrow"] += fee
                acct.out.paths.add("borrow")
                acct.bar_cost += fee
                pos.cash_flows -= fee
                pos.costs += fee
        equity = acct.cash + value
        out = acct.out
        out.equity.append(equity)
        out.turnover.append(acct.bar_notional / equity if equity > 0 else math.nan)
        out.gross.append(gross / equity if equity > 0 else math.nan)
        out.bar_costs.append(acct.bar_cost)

    try:
        for r in range(n_rows):
            acct.bar_notional = acct.bar_cost = 0.0
            if at_open:
                trade(r)
                if stops_on:
                    check_stops(r)
            else:
                if stops_on:
                    check_stops(r)
                trade(r)
            mark(r)
    except _StopError as stop:
        acct.out.error = stop.where
        return acct.out
    for j in sorted(acct.positions):
        pos = acct.positions[j]
        acct.out.round_trips.append(
            RoundTrip(
                j,
                pos.entry_row,
                None,
                pos.cash_flows + pos.shares * last_close[j],
                pos.costs,
                pos.entry_notional,
            )
        )
    return acct.out
