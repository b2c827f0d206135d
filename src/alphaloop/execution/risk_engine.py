"""The risk engine: every order passes it before it leaves the system.

The engine keeps a shadow book (positions, open orders, cash, last prices)
fed by the caller: :meth:`RiskEngine.submit` checks an order and, when it
passes, records it as open; :meth:`on_fill`, :meth:`on_done` and
:meth:`mark` follow what happened. It never talks to a broker: the caller
(the simulated broker now, paper and live brokers later) rejects what the
engine refuses and cancels what :meth:`kill` returns.

Exposure is counted on the worst case: an asset's exposure is
``max(|pos + open buys|, |pos - open sells|) * last price``, so orders that
are all working at once cannot together pass a limit that each passes
alone.

Trading states: ``ACTIVE``; ``REDUCING`` (only orders that reduce a
position pass: entered when marks push a position or the book past a
limit, left when they are back within); ``HALTED`` (nothing passes;
entered by the kill switch and by the loss and reject breakers, left only
through :meth:`resume`). Every change is a :class:`Transition` in
:attr:`RiskEngine.transitions`; every refusal is a :class:`Refusal` in
:attr:`RiskEngine.refusals`, naming the limit, the value and the threshold.

With a policy store (``policy=``), the current risk mode's limits tighten
the engine's own and blocked symbols and strategies may only reduce,
from the first check after the policy changes.

The check path is plain Python on precomputed floats (no pydantic).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

from alphaloop.errors import BacktestError
from alphaloop.execution.policy import PolicySource, tighter
from alphaloop.execution.risk_book import ShadowBook
from alphaloop.execution.risk_limits import RiskLimits
from alphaloop.execution.risk_records import Refusal, TradingState, Transition

__all__ = ["Refusal", "RiskEngine", "TradingState", "Transition"]

_INF = math.inf
_LOT_RTOL = 1e-9


def _cap(value: float | None) -> float:
    return _INF if value is None else float(value)


class RiskEngine(ShadowBook):
    """Pre-trade checks, portfolio limits and circuit breakers over a shadow book.

    Parameters
    ----------
    limits : RiskLimits
    assets : sequence of str
        Every asset the account may trade.
    initial_capital : float
        Starting cash (account currency); the first equity peak and day open.
    policy : PolicySource, optional
        The policy store (:mod:`alphaloop.execution.policy`): at each check
        and mark, when its version changed, the current mode's limits are
        applied on top of ``limits`` (the tighter of each wins; ``limits``
        stays what a person set) and blocked symbols, and this engine's
        ``strategy`` when blocked, may only reduce positions.
    strategy : str, default ""
        The strategy whose orders this engine checks (for the policy).
    """

    def __init__(
        self,
        limits: RiskLimits,
        assets: Sequence[str],
        initial_capital: float,
        *,
        policy: PolicySource | None = None,
        strategy: str = "",
    ) -> None:
        names = sorted(limits.group_caps)
        gid = {g: k for k, g in enumerate(names)}
        groups = [gid.get(limits.groups.get(a, ""), -1) for a in assets]
        super().__init__(assets, initial_capital, groups, len(names))
        self.limits = limits
        self._group_names = names
        self._set_limits(limits)
        # the policy store: its mode's limits and blocked names, re-read when it changes
        self.policy = policy
        self.strategy = strategy
        self.policy_version = -1
        self.policy_mode: str | None = None
        self._blocked = [False] * len(self.assets)
        self._strategy_blocked = False
        self.peak = self.equity
        self.day_open = self.equity
        self._stamps: deque[float] = deque()
        self.rejects_in_row = 0
        self.state = TradingState.ACTIVE
        self._reducing_for_exposure = False
        self.transitions: list[Transition] = []
        self.refusals: list[Refusal] = []
        self.n_checks = 0

    def _set_limits(self, limits: RiskLimits) -> None:
        """Precompute ``limits`` as floats (inf = off); groups stay as built."""
        self.effective_limits = limits
        self._max_notional = _cap(limits.max_order_notional)
        self._max_weight = _cap(limits.max_weight)
        self._collar = _cap(limits.price_collar)
        self._lot = float(limits.lot_size or 0.0)
        self._min_notional = float(limits.min_notional or 0.0)
        self._restricted = [a in set(limits.restricted) for a in self.assets]
        self._max_gross = _cap(limits.max_gross)
        self._max_net = _cap(limits.max_net)
        self._max_conc = _cap(limits.max_concentration)
        self._conc_from = float(limits.concentration_from)
        self._group_cap = [float(limits.group_caps[g]) for g in self._group_names]
        self._max_daily_loss = _cap(limits.max_daily_loss)
        self._max_drawdown = _cap(limits.max_drawdown)
        self._max_orders = limits.max_orders or 0
        self._window = float(limits.rate_window)
        self._max_rejects = limits.max_consecutive_rejects or 0

    def _refresh_policy(self, now: float) -> None:
        """Apply the policy when its version changed: the mode's limits on top of the
        engine's own (the tighter wins) and the blocked names; then the breakers."""
        assert self.policy is not None
        p = self.policy.current()
        if p.version == self.policy_version:
            return
        self.policy_version = p.version
        self.policy_mode = p.mode.value
        self._set_limits(tighter(self.limits, p.limits))
        self._blocked = [p.symbol_block(a) is not None for a in self.assets]
        self._strategy_blocked = p.strategy_block(self.strategy) is not None
        self._breakers(now)

    # -------------------------------------------------------------- checks
    def submit(
        self,
        order_id: int,
        asset: str,
        quantity: float,
        price: float = math.nan,
        *,
        limit_price: float | None = None,
        now: float = 0.0,
    ) -> Refusal | None:
        """Check an order of ``quantity`` signed shares; record it as open when it passes.

        ``price`` is the reference price when the engine has no last price
        for the asset yet (or a fresher one); ``limit_price`` is checked
        against the price collar. Returns the refusal, or None.
        """
        self.n_checks += 1
        if self.policy is not None:
            self._refresh_policy(now)
        j = self._pos_of.get(asset)
        if j is None:
            raise BacktestError(f"risk engine: unknown asset {asset!r}")
        if price == price and price != self.price[j]:  # noqa: PLR0124 (not NaN: a fresh price)
            self._set_price(j, price)
            self._breakers(now)
        px = self.price[j]
        state = self.state
        if state is TradingState.HALTED:
            return self._refuse(order_id, asset, "halted", math.nan, math.nan, now)
        if not px > 0.0:
            return self._refuse(order_id, asset, "last_price", px, 0.0, now)
        pos = self.pos[j]
        buy = quantity > 0.0
        q = quantity if buy else -quantity
        open_b = self.open_buy[j]
        open_s = self.open_sell[j]
        # reducing: every open order on this side filled would still not flip the position
        reducing = (pos < 0.0 and q + open_b <= -pos) if buy else (pos > 0.0 and q + open_s <= pos)
        if self._max_orders:
            stamps = self._stamps
            while stamps and stamps[0] <= now - self._window:
                stamps.popleft()
            if len(stamps) >= self._max_orders:
                return self._refuse(order_id, asset, "max_orders", len(stamps) + 1,
                                    self._max_orders, now)  # fmt: skip
        notional = q * px
        if notional > self._max_notional:
            return self._refuse(order_id, asset, "max_order_notional", notional,
                                self._max_notional, now)  # fmt: skip
        if limit_price is not None and self._collar < _INF:
            off = abs(limit_price / px - 1.0)
            if off > self._collar:
                return self._refuse(order_id, asset, "price_collar", off, self._collar, now)
        lot = self._lot
        if lot:
            k = q / lot
            if abs(k - round(k)) > _LOT_RTOL * max(1.0, k):
                return self._refuse(order_id, asset, "lot_size", q, lot, now)
        if reducing:  # cannot raise any exposure: no portfolio check
            if self._max_orders:
                self._stamps.append(now)
            self.rejects_in_row = 0
            self.open[order_id] = (j, quantity)
            self._change_open(j, quantity, q)
            return None
        if state is TradingState.REDUCING:
            return self._refuse(order_id, asset, "reducing_only", notional, 0.0, now)
        if self._restricted[j]:
            return self._refuse(order_id, asset, "restricted", notional, 0.0, now)
        if self._blocked[j]:
            return self._refuse(order_id, asset, "policy_symbol", notional, 0.0, now)
        if self._strategy_blocked:
            return self._refuse(order_id, asset, "policy_strategy", notional, 0.0, now)
        if notional < self._min_notional:
            return self._refuse(order_id, asset, "min_notional", notional,
                                self._min_notional, now)  # fmt: skip
        # portfolio: the worst-case exposure if every open order fills
        if buy:
            hi = pos + open_b + q
            lo = pos - open_s
        else:
            hi = pos + open_b
            lo = pos - open_s - q
        hi = hi if hi > 0.0 else -hi
        lo = lo if lo > 0.0 else -lo
        new_exp = (hi if hi > lo else lo) * px
        eq = self.equity
        if not eq > 0.0:
            return self._refuse(order_id, asset, "equity", eq, 0.0, now)
        if new_exp > self._max_weight * eq:
            return self._refuse(order_id, asset, "max_weight", new_exp / eq,
                                self._max_weight, now)  # fmt: skip
        delta = new_exp - self._exp[j]
        gross = self.gross + delta
        if gross > self._max_gross * eq:
            return self._refuse(order_id, asset, "max_gross", gross / eq, self._max_gross, now)
        net_hi = self._net_hi
        net_lo = self._net_lo
        if buy:
            net_hi += notional
        else:
            net_lo -= notional
        if self._max_net < _INF:
            a = net_hi if net_hi > 0.0 else -net_hi
            b = net_lo if net_lo > 0.0 else -net_lo
            net = a if a > b else b
            if net > self._max_net * eq:
                return self._refuse(order_id, asset, "max_net", net / eq, self._max_net, now)
        if self._max_conc < _INF and gross >= self._conc_from * eq and gross > 0.0:
            share = new_exp / gross
            if share > self._max_conc:
                return self._refuse(order_id, asset, "max_concentration", share,
                                    self._max_conc, now)  # fmt: skip
        g = self._group[j]
        if g >= 0:
            exposure = self._gexp[g] + delta
            if exposure > self._group_cap[g] * eq:
                return self._refuse(order_id, asset, f"group_caps[{self._group_names[g]}]",
                                    exposure / eq, self._group_cap[g], now)  # fmt: skip
            self._gexp[g] = exposure
        # passed: record it as open
        if self._max_orders:
            self._stamps.append(now)
        self.rejects_in_row = 0
        self.open[order_id] = (j, quantity)
        if buy:
            self.open_buy[j] = open_b + q
        else:
            self.open_sell[j] = open_s + q
        self._net_hi = net_hi
        self._net_lo = net_lo
        self._exp[j] = new_exp
        self.gross = gross
        return None

    def _refuse(
        self, order_id: int, asset: str, limit: str, value: float, threshold: float, now: float
    ) -> Refusal:
        refusal = Refusal(order_id, asset, limit, float(value), float(threshold), now)
        self.refusals.append(refusal)
        self._count_reject(now)
        return refusal

    def _count_reject(self, now: float) -> None:
        self.rejects_in_row += 1
        if (
            self._max_rejects
            and self.rejects_in_row >= self._max_rejects
            and self.state is not TradingState.HALTED
        ):
            self._move(TradingState.HALTED, now, "consecutive rejects",
                           "max_consecutive_rejects", self.rejects_in_row,
                           self._max_rejects)  # fmt: skip

    # --------------------------------------------------------- shadow book
    def on_fill(
        self,
        order_id: int,
        asset: str,
        quantity: float,
        price: float,
        cost: float = 0.0,
        now: float = 0.0,
    ) -> None:
        """A fill of ``quantity`` signed shares at ``price`` (``cost`` in currency).

        Fills of orders the engine did not check (protection orders a broker
        places itself) move the position all the same.
        """
        entry = self.open.get(order_id)
        if entry is not None:
            j, remaining = entry
            left = remaining - quantity
            if abs(left) <= 1e-9 * max(1.0, abs(remaining)):
                left = 0.0
                del self.open[order_id]
            else:
                self.open[order_id] = (j, left)
            self._change_open(j, remaining, -min(abs(quantity), abs(remaining)))
        else:
            j = self._pos_of[asset]
        self._set_price(j, price)
        self._reprice(j, lambda: self.pos.__setitem__(j, self.pos[j] + quantity))
        self.cash -= quantity * price + cost
        self.equity -= cost
        self._breakers(now)

    def amend(
        self,
        order_id: int,
        quantity: float,
        *,
        limit_price: float | None = None,
        now: float = 0.0,
    ) -> Refusal | None:
        """Check a working order's new terms (``quantity``: signed shares left to fill).

        On a refusal the order keeps its old terms in the book. Orders the
        engine does not know pass (it did not check them either).
        """
        entry = self.open.get(order_id)
        if entry is None:
            return None
        j, old = entry
        self.on_done(order_id)
        refusal = self.submit(order_id, self.assets[j], quantity, limit_price=limit_price, now=now)
        if refusal is not None:
            self.open[order_id] = (j, old)
            self._change_open(j, old, abs(old))
        return refusal

    def on_done(self, order_id: int, *, rejected: bool = False, now: float = 0.0) -> None:
        """The order finished without filling what is left (canceled, expired, rejected)."""
        entry = self.open.pop(order_id, None)
        if entry is not None:
            j, remaining = entry
            self._change_open(j, remaining, -abs(remaining))
        if rejected:
            self._count_reject(now)

    def mark(self, prices: Iterable[float], now: float = 0.0, *, new_day: bool = False) -> None:
        """Take the last prices (one per asset, NaN = unchanged); check the breakers.

        ``new_day``: this mark opens a trading day (the daily loss restarts
        from the equity before these prices).
        """
        if self.policy is not None:
            self._refresh_policy(now)
        if new_day:
            self.day_open = self.equity
        for j, p in enumerate(prices):
            if not math.isnan(p):
                self._set_price(j, float(p))
        # recompute the sums from scratch: incremental updates drift
        self.gross = sum(self._exp)
        self.equity = self.cash + sum(
            p * px for p, px in zip(self.pos, self.price, strict=True) if p
        )
        self._breakers(now)

    def _breakers(self, now: float) -> None:
        eq = self.equity
        self.peak = max(self.peak, eq)
        if self.state is TradingState.HALTED:
            return
        loss = (self.day_open - eq) / self.day_open if self.day_open > 0 else 0.0
        if loss >= self._max_daily_loss:
            self._move(TradingState.HALTED, now, "daily loss", "max_daily_loss", loss,
                       self._max_daily_loss)  # fmt: skip
            return
        dd = (self.peak - eq) / self.peak if self.peak > 0 else 0.0
        if dd >= self._max_drawdown:
            self._move(TradingState.HALTED, now, "drawdown from peak", "max_drawdown", dd,
                       self._max_drawdown)  # fmt: skip
            return
        breach = self.breach()
        if breach is not None and self.state is TradingState.ACTIVE:
            self._reducing_for_exposure = True
            self._move(TradingState.REDUCING, now, "limit passed by marks", *breach)
        elif breach is None and self._reducing_for_exposure:
            self._reducing_for_exposure = False
            self._move(TradingState.ACTIVE, now, "back within limits")

    def breach(self) -> tuple[str, float, float] | None:
        """The first position or book limit the worst-case exposure passes, or None."""
        eq = self.equity
        if not eq > 0.0:
            return ("equity", eq, 0.0)
        top = max(self._exp, default=0.0)
        if top > self._max_weight * eq * (1 + 1e-9):
            return ("max_weight", top / eq, self._max_weight)
        if self.gross > self._max_gross * eq * (1 + 1e-9):
            return ("max_gross", self.gross / eq, self._max_gross)
        net = max(abs(self._net_hi), abs(self._net_lo))
        if net > self._max_net * eq * (1 + 1e-9):
            return ("max_net", net / eq, self._max_net)
        for g, cap in enumerate(self._group_cap):
            if self._gexp[g] > cap * eq * (1 + 1e-9):
                return (f"group_caps[{self._group_names[g]}]", self._gexp[g] / eq, cap)
        return None

    # ------------------------------------------------------------- states
    def _move(
        self,
        state: TradingState,
        now: float,
        reason: str,
        limit: str = "",
        value: float = math.nan,
        threshold: float = math.nan,
    ) -> None:
        if state is self.state:
            return
        self.transitions.append(
            Transition(now, self.state, state, reason, limit, float(value), float(threshold))
        )
        self.state = state

    def kill(self, reason: str, now: float = 0.0) -> list[int]:
        """The kill switch: halt, and return every open order id for the caller to cancel."""
        self._move(TradingState.HALTED, now, f"kill switch: {reason}", "kill_switch")
        return list(self.open)

    def resume(self, reason: str, now: float = 0.0) -> None:
        """Leave HALTED (or REDUCING) by hand; REDUCING again if marks still pass a limit."""
        self.rejects_in_row = 0
        self.peak = max(self.equity, 0.0)
        self.day_open = self.equity
        self._reducing_for_exposure = False
        self._move(TradingState.ACTIVE, now, f"resumed: {reason}")
        self._breakers(now)
