"""Run the service with uvicorn: settings checked first, TLS when a certificate is given.

The server refuses to start without a strong secret (see
:mod:`alphaloop.api.settings`), with only one of ``tls_cert``/``tls_key``,
or with files that do not exist. Without TLS it says so: put it behind a
TLS proxy or bind it to loopback only.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.api.errors import ServiceConfigError
from alphaloop.api.settings import ApiSettings

if TYPE_CHECKING:
    from alphaloop.app import Workspace

__all__ = ["check_tls", "serve"]


def check_tls(cert: Path | None, key: Path | None) -> tuple[str, str] | None:
    """The certificate and key paths, checked (ServiceConfigError naming the problem)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ServiceConfigError(
            "TLS needs both --tls-cert and --tls-key", hint="give both files, or neither"
        )
    for what, path in (("certificate", cert), ("key", key)):
        if not path.is_file():
            raise ServiceConfigError(f"TLS {what} file {path} does not exist")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ServiceConfigError(
            f"cannot load the TLS certificate {cert} and key {key}: {exc}"
        ) from None
    return str(cert), str(key)


def serve(
    ws: Workspace,
    settings: ApiSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "info",
    **uvicorn_options: Any,
) -> None:
    """Serve ``ws`` until interrupted (blocking)."""
    import uvicorn

    from alphaloop.api.app import create_app

    tls = check_tls(tls_cert, tls_key)
    app = create_app(ws, settings)
    kwargs: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "server_header": False,
        "ws_max_size": 1 << 20,
        **uvicorn_options,
    }
    if tls is not None:
        kwargs["ssl_certfile"], kwargs["ssl_keyfile"] = tls
    uvicorn.run(app, **kwargs)
