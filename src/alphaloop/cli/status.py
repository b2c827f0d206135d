"""``alphaloop status``: the running system at a glance."""

from __future__ import annotations

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Strategies by lifecycle state, risk mode, open sessions, model ages, kills, approvals."""
    from alphaloop.app.status import system_status

    doc = system_status(workspace(ctx))
    if as_json:
        print_json(doc)
        return
    by_state = doc["strategies"]["by_state"]
    states = ", ".join(f"{k} {v}" for k, v in sorted(by_state.items())) or "none"
    out.print(f"risk mode [bold]{doc['risk_mode']}[/]; strategies: {states}")
    blocked = doc["blocked"]["symbols"] + doc["blocked"]["strategies"]
    if blocked:
        out.print(f"blocked: {escape(', '.join(blocked))}")
    for kill in doc["kills"]:
        out.print(
            f"[red]KILLED[/] {escape(str(kill.get('scope')))} {escape(str(kill.get('reason')))}"
        )
    if doc["approvals_pending"]:
        out.print(f"approvals waiting: {doc['approvals_pending']} (alphaloop approvals list)")
    if doc["sessions"]:
        print_table(
            (Col("session", "right"), Col("name"), Col("feed", drop=1), Col("state"),
             Col("bars", "right"), Col("equity", "right")),
            [(str(s["id"]), escape(s["name"]), escape(s["feed"]), s["state"], f"{s['bars']:,}",
              f"{s['equity']:,.2f}") for s in doc["sessions"]],
            title="open sessions",
        )  # fmt: skip
    if doc["models"]:
        print_table(
            (Col("model"), Col("data end", drop=1), Col("age (days)", "right"),
             Col("alerts", "right")),
            [(escape(m["ref"]), (m["data_end"] or "-")[:10],
              "-" if m["age_days"] is None else f"{m['age_days']:.0f}", str(m["alerts"]))
             for m in doc["models"]],
            title="production models",
        )  # fmt: skip
    if doc["strategies"]["list"]:
        print_table(
            (Col("strategy"), Col("state"), Col("since", drop=1)),
            [(escape(str(s.get("name"))), str(s.get("state")), str(s.get("since", "-"))[:19])
             for s in doc["strategies"]["list"][:20]],
            title="lifecycle (latest changes)",
        )  # fmt: skip
