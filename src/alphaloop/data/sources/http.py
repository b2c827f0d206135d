"""A JSON GET over HTTP(S) (standard library only), with errors sorted for the retrier.

Connection failures, timeouts, HTTP 429 and 5xx raise
:class:`~alphaloop.data.sources.retry.Transient` (429 and 503 carry the
server's ``Retry-After``); other HTTP errors and answers that are not JSON
raise :class:`~alphaloop.errors.DataSourceError` with the vendor's words.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from alphaloop.data.sources.retry import Transient, parse_retry_after
from alphaloop.errors import DataSourceError

__all__ = ["get_json"]

USER_AGENT = "alphaloop (+https://github.com/alphaloop)"


def _vendor_words(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:200]
    return json.dumps(doc)[:300]


def get_json(
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    what: str = "request",
    error_json: bool = False,
) -> Any:
    """``GET url?params`` and the parsed JSON body.

    With ``error_json`` a 4xx answer (but 429) whose body is JSON is returned
    as it is, for the caller to read the vendor's error from it.
    """
    query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
    full = f"{url}?{query}" if query else url
    req = urllib.request.Request(full, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        raw = exc.read() if exc.fp is not None else b""
        if exc.code == 429 or exc.code >= 500:
            wait = parse_retry_after(exc.headers.get("Retry-After")) if exc.headers else None
            raise Transient(f"HTTP {exc.code} {_vendor_words(raw)}".strip(), wait) from None
        if error_json:
            try:
                return json.loads(raw)
            except ValueError:
                pass
        raise DataSourceError(
            f"{what}: HTTP {exc.code}: {_vendor_words(raw) or exc.reason}"
        ) from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Transient(f"cannot reach {urllib.parse.urlsplit(url).netloc}: {reason}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise DataSourceError(
            f"{what}: the answer is not JSON: {body[:80].decode('utf-8', 'replace')!r}",
            hint="the service may be down or answering with an error page; try again later",
        ) from None
