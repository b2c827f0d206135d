"""``alphaloop serve`` (the REST and WebSocket service) and ``alphaloop users`` (its users,
roles and API keys, for bootstrapping the first admin).

The service is in :mod:`alphaloop.api`; it refuses to start without a strong
secret (``ALPHALOOP_API_SECRET``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from alphaloop.cli.common import Col, JsonOpt, err, out, print_json, print_table, workspace

__all__ = ["serve", "users_app"]

users_app = typer.Typer(help="Users, roles and API keys of the service.", no_args_is_help=True)
key_app = typer.Typer(help="API keys for scripts.", no_args_is_help=True)
users_app.add_typer(key_app, name="key")

RoleOpt = Annotated[str, typer.Option("--role", help="viewer, researcher, trader or admin.")]


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM); with --tls-key.")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="TLS private key (PEM); with --tls-cert.")
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="An origin allowed by CORS (repeat); default none."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Background jobs run at once.")
    ] = None,
    workspace_dir: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="Workspace to serve (same as `alphaloop --workspace DIR serve`).",
        ),
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(
            "--bus",
            help="Redis URL of the live event bus feeding the WebSocket (fills, P&L, risk, "
            "alerts), e.g. redis://127.0.0.1:6379/0.",
        ),
    ] = None,
    jobs: Annotated[
        str | None,
        typer.Option(
            "--jobs",
            help="Where background jobs run: local (worker processes) or ray (Ray tasks; "
            "ALPHALOOP_RAY_ADDRESS or a local instance). Default: ray when a Ray address is "
            "set, else local.",
        ),
    ] = None,
) -> None:
    """Serve the REST API and WebSocket under /api/v1 (needs ALPHALOOP_API_SECRET)."""
    try:
        from alphaloop.api.server import check_tls
        from alphaloop.api.server import serve as run
        from alphaloop.api.settings import load_settings
    except ModuleNotFoundError as exc:
        from alphaloop.errors import ConfigError

        raise ConfigError(
            f"the service needs the {exc.name} package",
            hint="pip install 'alphaloop[service]'",
        ) from None
    settings = load_settings(
        cors_origins=cors_origin or None, workers=workers, bus_url=bus, jobs=jobs
    )
    tls = check_tls(tls_cert, tls_key)
    if workspace_dir is not None:
        ctx.find_root().obj["workspace"] = workspace_dir
    ws = workspace(ctx, write=True)
    scheme = "https" if tls else "http"
    err.print(
        f"alphaloop service on {scheme}://{host}:{port}/api/v1 (workspace {ws.root})",
        markup=False,
        soft_wrap=True,
    )
    if tls is None and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(
            "warning: no TLS and not on loopback: tokens travel in clear; give --tls-cert "
            "and --tls-key or put a TLS proxy in front",
            markup=False,
            soft_wrap=True,
        )
    from alphaloop.api.users import UserStore

    if not UserStore(ws.db).list():
        err.print(
            "note: no users yet; create an admin with `alphaloop users add NAME --role admin`",
            markup=False,
            soft_wrap=True,
        )
    run(ws, settings, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key)


def _store(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from alphaloop.api.users import UserStore

    return UserStore(workspace(ctx, write=True).db)


def _audit(ctx: typer.Context, action: str, target: str, detail: dict) -> None:  # type: ignore[type-arg]
    from alphaloop.app.governance import current_user, governance

    governance(workspace(ctx, write=True)).audit.append(
        current_user(), action, target, {"via": "cli", **detail}
    )


def _password() -> str:
    given = os.environ.get("ALPHALOOP_NEW_PASSWORD")
    if given:
        return given
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)  # type: ignore[no-any-return]


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    role: RoleOpt = "viewer",
    as_json: JsonOpt = False,
) -> None:
    """Create a user (the password is asked for, or read from ALPHALOOP_NEW_PASSWORD)."""
    from alphaloop.api.roles import Role
    from alphaloop.errors import UsageError

    try:
        Role.parse(role)
    except ValueError as exc:
        raise UsageError(f"--role: {exc}") from None
    user = _store(ctx).add(name, _password(), role)
    _audit(ctx, "users.add", f"user:{name}", {"role": user.role.name})
    if as_json:
        print_json(user.to_dict())
    else:
        out.print(f"user {user.name} created with role {user.role.name}", markup=False)


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every user with role and status."""
    users = _store(ctx).list()
    if as_json:
        print_json([u.to_dict() for u in users])
        return
    rows = [(u.name, u.role.name, "disabled" if u.disabled else "active") for u in users]
    print_table([Col("name"), Col("role"), Col("status")], rows, title="users")


@users_app.command("set-role")
def users_set_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Argument(help="viewer, researcher, trader or admin.")],
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role (effective at their next request)."""
    user = _store(ctx).set_role(name, role)
    _audit(ctx, "users.set_role", f"user:{name}", {"role": user.role.name})
    if as_json:
        print_json(user.to_dict())
    else:
        out.print(f"user {user.name} now has role {user.role.name}", markup=False)


@users_app.command("disable")
def users_disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    as_json: JsonOpt = False,
) -> None:
    """Disable a user: their tokens and API keys stop working at once."""
    user = _store(ctx).set_disabled(name, True)
    _audit(ctx, "users.disable", f"user:{name}", {})
    if as_json:
        print_json(user.to_dict())
    else:
        out.print(f"user {user.name} disabled", markup=False)


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The key acts as this user.")],
    name: Annotated[str, typer.Option("--name", help="What the key is for.")] = "script",
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    key = _store(ctx).create_key(user, name)
    _audit(ctx, "users.key_create", f"user:{user}", {"key_id": key.id, "prefix": key.prefix})
    if as_json:
        print_json(key.to_dict())
    else:
        out.print(f"API key {key.id} for {key.user} ({key.name}); shown only now:", markup=False)
        out.print(key.secret or "", markup=False)


@key_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    key_id: Annotated[int, typer.Argument(help="Key id (see `users key list`).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key."""
    key = _store(ctx).revoke_key(key_id)
    _audit(ctx, "users.key_revoke", f"key:{key_id}", {"user": key.user})
    if as_json:
        print_json(key.to_dict())
    else:
        out.print(f"API key {key.id} of {key.user} revoked", markup=False)


@key_app.command("list")
def key_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's keys.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """API keys (ids, prefixes, owners; never the keys)."""
    keys = _store(ctx).list_keys(user)
    if as_json:
        print_json([k.to_dict() for k in keys])
        return
    rows = [
        (str(k.id), k.user, k.name, k.prefix + "…", "revoked" if k.revoked else "active")
        for k in keys
    ]
    print_table(
        [Col("id", "right"), Col("user"), Col("name"), Col("prefix"), Col("status")],
        rows,
        title="API keys",
    )
