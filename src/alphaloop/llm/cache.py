"""A response cache keyed by the request, so a session replays with no network.

The key is the SHA-256 of the canonical request (:func:`request_key`):
provider, model, base URL, messages, schema, temperature, seed,
max_tokens and, when it is not the default, the JSON mode, serialized as
JSON with sorted keys. The API key is not part of
the request and never reaches the cache. Entries live in one SQLite file;
each write is its own transaction in WAL mode, so a crash loses at most the
answer being written and never corrupts the others.

Modes (:data:`CACHE_MODES`):

``use``
    Read the cache; on a miss, call the endpoint and store the answer.
``replay``
    The cache must answer: a miss raises
    :class:`~alphaloop.llm.errors.LLMReplayMissError` and no HTTP call is made.
``off``
    Neither read nor write.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

__all__ = ["CACHE_MODES", "CacheMode", "ResponseCache", "canonical_request", "request_key"]

CacheMode = Literal["use", "replay", "off"]
CACHE_MODES: tuple[str, ...] = ("use", "replay", "off")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_responses (
    key TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    response TEXT NOT NULL
)
"""


def canonical_request(request: dict[str, Any]) -> str:
    """The canonical JSON text of a request (sorted keys, no whitespace, UTF-8)."""
    return json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: dict[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_request`."""
    return hashlib.sha256(canonical_request(request).encode("utf-8")).hexdigest()


class ResponseCache:
    """Answers by request key, in a SQLite file.

    Parameters
    ----------
    path : str or Path
        The SQLite file; created with its directory on first use.
    mode : {"use", "replay", "off"}
        See the module docstring.
    """

    def __init__(self, path: str | Path, mode: CacheMode = "use") -> None:
        if mode not in CACHE_MODES:
            from alphaloop.llm.errors import LLMConfigError

            raise LLMConfigError(
                f"unknown cache mode {mode!r}", hint=f"use one of {', '.join(CACHE_MODES)}"
            )
        self.path = Path(path)
        self.mode: CacheMode = mode
        if mode != "off":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as conn, conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r}, mode={self.mode!r})"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored answer of ``key``, or None (always None when the mode is ``off``)."""
        if self.mode == "off":
            return None
        with closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT response FROM llm_responses WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Store ``response`` for ``key`` (one transaction; nothing in ``off`` or ``replay``)."""
        if self.mode != "use":
            return
        with closing(self._connect()) as conn, conn:
            conn.execute(
                "INSERT OR REPLACE INTO llm_responses (key, request, response) VALUES (?, ?, ?)",
                (key, canonical_request(request), json.dumps(response, sort_keys=True)),
            )

    def __len__(self) -> int:
        if self.mode == "off" or not self.path.exists():
            return 0
        with closing(self._connect()) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM llm_responses").fetchone()[0])
