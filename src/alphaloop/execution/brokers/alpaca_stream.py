"""alpaca-py's ``trade_updates`` stream, hooked so the broker knows its state.

``TradingStream`` reconnects by itself (with backoff) but does not say when
it is connected. The subclass made here tells the broker when the socket is
authorized and listening (orders may be sent, after a reconciliation) and
when it closes (orders are refused), and checks the endpoint's host on every
connect. alpaca-py is pinned exactly: the hooks override its ``_connect``,
``_start_ws`` and ``close``.
"""

from __future__ import annotations

from typing import Any, Protocol

from alphaloop.execution.brokers.safety import Credentials, check_url

__all__ = ["StreamOwner", "endpoint_url", "hooked_stream"]


class StreamOwner(Protocol):
    """What the stream reports to (the broker)."""

    allowed_hosts: frozenset[str]

    def _on_stream_up(self) -> None: ...

    def _on_stream_down(self) -> None: ...


def endpoint_url(value: Any) -> str:
    """A URL from alpaca-py's ``BaseURL`` enum or a plain string."""
    return str(getattr(value, "value", value))


def hooked_stream(owner: StreamOwner, credentials: Credentials, **kwargs: Any) -> Any:
    """A ``TradingStream`` (raw messages) that reports to ``owner``."""
    from alpaca.trading.stream import TradingStream

    class HookedStream(TradingStream):  # type: ignore[misc]
        async def _connect(self) -> None:
            check_url(endpoint_url(self._endpoint), owner.allowed_hosts, what="the Alpaca stream")
            await super()._connect()

        async def _start_ws(self) -> None:
            await super()._start_ws()
            owner._on_stream_up()

        async def close(self) -> None:
            owner._on_stream_down()
            await super().close()

    return HookedStream(credentials.key, credentials.secret, raw_data=True, **kwargs)
