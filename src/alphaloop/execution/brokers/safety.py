"""Credentials from the environment, live approval, endpoint checks and backoff.

Rules (see docs/brokers.md):

* Keys come only from environment variables; paper and live keys live in
  separate variables (``ALPHALOOP_ALPACA_PAPER_KEY_ID`` vs
  ``ALPHALOOP_ALPACA_LIVE_KEY_ID``, ...). :class:`Credentials` never shows the
  secret in ``repr``/``str``.
* A live broker needs ``live=True``, live credentials and a
  :class:`LiveApproval` token; without any of them it is refused with
  :class:`LiveTradingError`.
* A paper broker may reach only its venue's paper or sandbox hosts, or a
  loopback address (a local test server): :func:`check_url` refuses anything
  else with :class:`EndpointError` before a request is made.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from alphaloop.execution.brokers.errors import (
    EndpointError,
    LiveTradingError,
    MissingCredentialsError,
)

__all__ = [
    "Backoff",
    "Credentials",
    "LiveApproval",
    "RedactingLogger",
    "check_url",
    "guard_session",
    "host_of",
    "is_loopback",
    "require_live",
]


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key and its secret (plus a passphrase where the venue has one).

    Build it with :meth:`from_env`; ``repr`` shows the variable names only.
    """

    key: str = field(repr=False)
    secret: str = field(repr=False)
    source: str = "environment"
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls,
        key_var: str,
        secret_var: str,
        *,
        password_var: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Read the key and secret from ``key_var`` / ``secret_var``.

        Raises
        ------
        MissingCredentialsError
            A variable is unset or empty (the message names the variables, never values).
        """
        env = os.environ if environ is None else environ
        missing = [v for v in (key_var, secret_var) if not env.get(v)]
        if missing:
            raise MissingCredentialsError(
                f"missing credentials: {', '.join(missing)} not set",
                hint="export the variables in the environment; keys are never read from files",
            )
        password = env.get(password_var) if password_var else None
        return cls(
            key=env[key_var],
            secret=env[secret_var],
            source=f"{key_var}/{secret_var}",
            password=password or None,
        )

    def __str__(self) -> str:
        return f"Credentials(from {self.source})"


@dataclass(frozen=True, slots=True)
class LiveApproval:
    """The token that lets a broker reach a live endpoint.

    ``approved_by`` names the person who approved live trading; ``scope`` the
    venue (``alpaca`` or ``ccxt:<exchange>``) it is valid for. The approval
    queue of the governance layer issues these; here only their presence,
    signer and scope are checked.
    """

    approved_by: str
    scope: str
    reason: str = ""
    approved_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not self.approved_by.strip():
            raise LiveTradingError("a live approval needs the name of who approved it")


def require_live(
    venue: str,
    *,
    live: bool,
    approved_by: LiveApproval | None,
    credentials: Credentials | None,
) -> None:
    """Refuse live trading unless all three conditions hold.

    Raises
    ------
    LiveTradingError
        ``live`` is not True, ``approved_by`` is not a :class:`LiveApproval`
        for ``venue``, or there are no live credentials.
    """
    if live is not True:
        raise LiveTradingError(f"{venue}: live endpoints need an explicit live=True")
    if not isinstance(approved_by, LiveApproval):
        raise LiveTradingError(
            f"{venue}: live trading needs an approval token (approved_by=LiveApproval(...))",
            hint="a person approves live trading; paper needs no approval",
        )
    if approved_by.scope != venue:
        raise LiveTradingError(f"the live approval is for {approved_by.scope!r}, not {venue!r}")
    if credentials is None:
        raise LiveTradingError(f"{venue}: live trading needs live credentials")


def host_of(url: str) -> str:
    """The host name of ``url`` (lower case, no port)."""
    host = urlsplit(url).hostname
    if not host:
        raise EndpointError(f"not a URL with a host: {url!r}")
    return host.lower()


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (a server on this machine)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, allowed_hosts: Iterable[str], *, what: str) -> str:
    """Return ``url`` when its host is allowed or loopback, else raise :class:`EndpointError`."""
    host = host_of(url)
    allowed = {h.lower() for h in allowed_hosts}
    if host in allowed or is_loopback(host):
        return url
    raise EndpointError(
        f"{what} may not reach {host}",
        hint=f"allowed hosts: {', '.join(sorted(allowed)) or 'none'} (or a loopback address)",
    )


def guard_session(session: Any, allowed: Iterable[str], what: str) -> None:
    """Make a ``requests.Session`` check each request's host before sending it."""
    from requests.adapters import HTTPAdapter

    hosts = frozenset(allowed)

    class GuardedAdapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            check_url(request.url, hosts, what=what)
            return super().send(request, *args, **kwargs)

    for prefix in ("https://", "http://"):
        session.mount(prefix, GuardedAdapter())


class RedactingLogger:
    """A logger for a client library that would log request headers with the keys in them.

    Every message is formatted, each credential value in it replaced by
    ``***``, then passed to ``target``. Use it where the library lets you
    set its logger (ccxt: ``exchange.logger``).
    """

    def __init__(self, target: logging.Logger, credentials: Credentials) -> None:
        self.target = target
        self._values = [v for v in (credentials.key, credentials.secret, credentials.password) if v]

    def _log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.target.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        for value in self._values:
            text = text.replace(value, "***")
        kwargs.pop("exc_info", None)  # a traceback could quote the keys too
        self.target.log(level, "%s", text, **kwargs)

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.INFO, msg, *args, **kwargs)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.WARNING, msg, *args, **kwargs)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.ERROR, msg, *args, **kwargs)

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._log(logging.ERROR, msg, *args, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - the logging.Logger method name
        return self.target.isEnabledFor(level)


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with full jitter for reconnects and retries.

    The n-th delay (n = 1, 2, ...) is drawn uniformly from
    ``[0.5, 1] * min(max_s, initial_s * factor ** (n - 1))`` seconds.
    ``reset()`` after a success.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    seed: int | None = 0
    attempts: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt (and count the attempt)."""
        self.attempts += 1
        cap = min(self.max_s, self.initial_s * self.factor ** (self.attempts - 1))
        return cap * (0.5 + 0.5 * self._rng.random())

    def reset(self) -> None:
        self.attempts = 0
