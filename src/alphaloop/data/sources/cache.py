"""An on-disk cache of the sources' raw answers, keyed by the request.

Each answer is one JSON file ``<root>/<source>/<key>.json`` holding the
request (what was asked), the time it was fetched (UTC) and the body as the
vendor sent it (parsed JSON). The key is the SHA-256 of the request's
canonical JSON, so the same request always finds the same file. Files are
written atomically: a reader never sees half an answer.

The cache serves two purposes: ``--offline`` fetches read only from it, and a
network failure falls back on it (and says so).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alphaloop.files import write_atomic

__all__ = ["CachedAnswer", "ResponseCache", "request_key"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def request_key(request: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the request's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """A raw answer read from the cache."""

    body: Any
    fetched_at: datetime
    path: Path


class ResponseCache:
    """Raw answers under ``root`` (a workspace's ``.alphaloop/cache/sources``).

    Parameters
    ----------
    root : Path
        Directory of the cache; created on the first write.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, source: str, request: Mapping[str, Any]) -> Path:
        return self.root / _SAFE.sub("_", source) / f"{request_key(request)}.json"

    def get(self, source: str, request: Mapping[str, Any]) -> CachedAnswer | None:
        """The cached answer to ``request``, or None (absent or unreadable)."""
        path = self.path(source, request)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            fetched = datetime.fromisoformat(doc["fetched_at"])
            return CachedAnswer(doc["body"], fetched.astimezone(UTC), path)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, source: str, request: Mapping[str, Any], body: Any) -> Path:
        """Store ``body`` as the answer to ``request`` (replacing any older one)."""
        path = self.path(source, request)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "request": dict(request),
            "fetched_at": datetime.now(UTC).isoformat(),
            "body": body,
        }
        write_atomic(path, json.dumps(doc, separators=(",", ":"), default=str))
        return path
