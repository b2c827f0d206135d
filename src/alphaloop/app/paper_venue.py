"""Connections of paper and live sessions to venues: market-data adapters for live feeds,
and the live broker with everything live trading needs.

Endpoints: a feed or a live session talks to the venue's own hosts; a test
or a local gateway sets them with ``ALPHALOOP_ALPACA_TRADING_URL``,
``ALPHALOOP_ALPACA_DATA_URL``, ``ALPHALOOP_ALPACA_STREAM_URL`` and
``ALPHALOOP_CCXT_<EXCHANGE>_URL`` (the adapters still refuse any host that
is not the venue's paper, sandbox or live host, or loopback).

Live trading needs three things, each refused on its own with what is
missing (:class:`~alphaloop.errors.UsageError`, exit 2): the explicit
``--live`` flag, the live keys (``ALPHALOOP_ALPACA_LIVE_*``,
``ALPHALOOP_CCXT_<EXCHANGE>_LIVE_*``; paper keys never trade live), and a
person's approval in the approval queue for this strategy on this venue
(``alphaloop approvals approve ID``), given before the first order.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.errors import UsageError

if TYPE_CHECKING:
    from alphaloop.execution import Governance
    from alphaloop.execution.brokers import LiveApproval, VenueBroker

__all__ = [
    "LIVE_APPROVAL_TTL_S",
    "bar_source",
    "live_approval",
    "live_broker",
    "live_key_names",
    "venue_urls",
]

#: seconds a request to trade live stays open for a person's decision (one day)
LIVE_APPROVAL_TTL_S = 86_400.0


def venue_urls(venue: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Endpoint overrides of ``venue`` from the environment (keyword arguments of its adapter)."""
    env = os.environ if environ is None else environ
    if venue == "alpaca":
        names = {"trading_url": "ALPHALOOP_ALPACA_TRADING_URL",
                 "data_url": "ALPHALOOP_ALPACA_DATA_URL",
                 "stream_url": "ALPHALOOP_ALPACA_STREAM_URL"}  # fmt: skip
    else:
        exchange = venue.partition(":")[2]
        names = {"base_url": f"ALPHALOOP_CCXT_{exchange.upper()}_URL"}
    return {k: env[v] for k, v in names.items() if env.get(v)}


def _adapter(
    venue: str, assets: Sequence[str], *, live: bool, environ: Mapping[str, str] | None,
    approval: LiveApproval | None = None, listen: bool = False,
) -> VenueBroker:  # fmt: skip
    from alphaloop.execution.brokers import make_broker

    kwargs: dict[str, Any] = dict(venue_urls(venue, environ))
    kwargs["environ"] = environ
    if live:
        kwargs.update(live=True, approved_by=approval)
    if venue == "alpaca":
        kwargs["start_stream"] = listen
    else:
        kwargs["start_polling"] = listen
    return make_broker(venue, assets, **kwargs)


def bar_source(
    venue: str, assets: Sequence[str], period: pd.Timedelta,
    environ: Mapping[str, str] | None = None,
) -> Any:  # fmt: skip
    """A feed's bar source: the venue's paper (sandbox) adapter, market data only."""
    from alphaloop.live.feed_sources import AlpacaBarSource, CcxtBarSource

    broker = _adapter(venue, assets, live=False, environ=environ)
    if venue == "alpaca":
        return AlpacaBarSource(broker, assets, period)
    return CcxtBarSource(broker, assets, period)


def live_key_names(venue: str) -> tuple[str, str]:
    """The environment variables of ``venue``'s live key and secret."""
    if venue == "alpaca":
        from alphaloop.execution.brokers import ALPACA_ENV

        return ALPACA_ENV["live"]
    from alphaloop.execution.brokers import ccxt_env

    key, secret, _ = ccxt_env(venue.partition(":")[2], True)
    return key, secret


def _live_request(gov: Governance, venue: str, spec_hash: str) -> Any:
    """The latest live-trading request for this strategy on ``venue`` (any status), or None."""
    found = None
    for a in gov.approvals.list():
        o = a.order
        if o.get("kind") == "live" and o.get("venue") == venue and o.get("strategy") == spec_hash:
            found = a
    return found


def live_approval(
    gov: Governance, venue: str, spec_hash: str, *, live_flag: bool, actor: str,
    environ: Mapping[str, str] | None = None,
) -> LiveApproval:  # fmt: skip
    """Check the three conditions of live trading; the approval token when all hold.

    A missing approval is requested here (once; it stays pending for a day).

    Raises
    ------
    UsageError
        ``--live`` not given, live keys not set, or no approval (pending, rejected or
        expired): the message says which, and how to give it.
    """
    from alphaloop.execution.brokers import LiveApproval

    if not live_flag:
        raise UsageError(
            f"this session trades live on {venue}: it runs only with the explicit --live flag",
            hint="add --live (it needs live keys and an approved request as well)",
        )
    env = os.environ if environ is None else environ
    missing = [name for name in live_key_names(venue) if not env.get(name)]
    if missing:
        raise UsageError(
            f"live trading on {venue} needs live keys: {', '.join(missing)} not set",
            hint="export the live key variables (paper keys never trade live)",
        )
    request = _live_request(gov, venue, spec_hash)
    if request is not None and request.status == "approved":
        gov.approvals.consume(request.id, request.order, actor=actor)
        request = gov.approvals.get(request.id)
    if request is not None and request.status == "sent":
        return LiveApproval(approved_by=request.decided_by or "unknown", scope=venue,
                            reason=request.reason)  # fmt: skip
    if request is None or request.status in ("rejected", "expired", "refused"):
        before = "" if request is None else f" (request {request.id} was {request.status})"
        fields = {"kind": "live", "venue": venue, "strategy": spec_hash, "session": ""}
        request = gov.approvals.request(fields, actor=actor)
        status = f"request {request.id} is now pending{before}"
    else:
        status = f"request {request.id} is pending"
    raise UsageError(
        f"live trading on {venue} needs a person's approval before the first order: {status}",
        hint=f"an admin approves it with `alphaloop approvals approve {request.id}`, "
        "then start again",
    )


def live_broker(
    venue: str, assets: Sequence[str], approval: LiveApproval,
    environ: Mapping[str, str] | None = None,
) -> VenueBroker:  # fmt: skip
    """The live adapter of ``venue``, listening to its order updates."""
    return _adapter(venue, assets, live=True, environ=environ, approval=approval, listen=True)
