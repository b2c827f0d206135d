"""Names of a ccxt exchange's key variables, and its URLs: all, sandbox hosts, rebased."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from alphaloop.execution.brokers.safety import host_of

__all__ = ["all_urls", "ccxt_env", "rebase", "sandbox_hosts"]


def ccxt_env(exchange: str, live: bool) -> tuple[str, str, str]:
    """Names of the (key, secret, password) variables for ``exchange``."""
    mode = "LIVE" if live else "SANDBOX"
    stem = f"ALPHALOOP_CCXT_{exchange.upper()}_{mode}"
    return f"{stem}_API_KEY", f"{stem}_SECRET", f"{stem}_PASSWORD"


def all_urls(node: Any) -> Iterator[str]:
    """Every URL string inside a ccxt ``urls`` entry (nested dicts and lists)."""
    if isinstance(node, str):
        if "://" in node:
            yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from all_urls(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from all_urls(value)


def sandbox_hosts(exchange: Any) -> frozenset[str]:
    """Hosts of an exchange's sandbox URLs (empty when it has no sandbox)."""
    return frozenset(host_of(u) for u in all_urls(exchange.urls.get("test") or {}))


def rebase(node: Any, base: str) -> Any:
    """Every URL in ``node`` with its scheme and host replaced by ``base`` (paths kept)."""
    if isinstance(node, str) and "://" in node:
        parts = urlsplit(node)
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    if isinstance(node, Mapping):
        return {k: rebase(v, base) for k, v in node.items()}
    return node
