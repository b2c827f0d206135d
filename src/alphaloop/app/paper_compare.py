"""Paper vs backtest: a session's record compared with the event backtest of its spec.

The backtest runs the session's spec on the same dataset version with the
event engine (not recorded as a trial). Over the bars the session has
recorded:

- **tracking difference per day**: paper daily return minus backtest daily
  return (days are UTC dates; the last equity of each day);
- **fills compared**: the i-th paper fill against the i-th backtest fill
  (time, asset, signed shares, price, cost); any difference is listed;
- **daily P&L** of the paper account (currency).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.app.paper import paper_store
from alphaloop.backtest import StrategySpec
from alphaloop.jsonsafe import json_safe
from alphaloop.live.decisions import decision_summary, read_decisions

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = ["PaperReport", "paper_report", "write_paper_report"]

_MAX_LISTED = 20
_TOL = 1e-9


@dataclass(frozen=True)
class PaperReport:
    """The comparison of one session with its backtest.

    Attributes
    ----------
    session : dict
        The session as recorded.
    daily : DataFrame
        Per UTC day: ``paper_equity``, ``backtest_equity``, ``paper_return``,
        ``backtest_return``, ``tracking_difference`` (paper minus backtest
        return), ``paper_pnl`` (currency).
    fills_compared, fills_matched : int
        Paper fills compared with the backtest's, and how many agree.
    fill_differences : list of dict
        The first differing fills (up to 20), each with both sides.
    backtest_fills_in_span : int
        Backtest fills up to the session's last recorded bar.
    gate : dict
        What the governance gate did (:func:`~alphaloop.live.decisions.decision_summary`):
        commands sent, refused (by stage) and waiting for approval. A session
        whose gate refused or held commands differs from the backtest by design.
    """

    session: dict[str, Any]
    daily: pd.DataFrame
    fills_compared: int
    fills_matched: int
    fill_differences: list[dict[str, Any]]
    backtest_fills_in_span: int
    gate: dict[str, Any] = field(default_factory=dict)

    @property
    def max_abs_tracking(self) -> float:
        td = self.daily["tracking_difference"].abs()
        return float(td.max()) if len(td) and td.notna().any() else 0.0

    @property
    def agrees(self) -> bool:
        """Every fill matches, none is missing, and no day tracks apart."""
        return (
            self.fills_matched == self.fills_compared == self.backtest_fills_in_span
            and self.max_abs_tracking <= 1e-9
        )

    def to_dict(self) -> dict[str, Any]:
        daily = self.daily.reset_index()
        daily["day"] = daily["day"].dt.strftime("%Y-%m-%d")
        return json_safe(
            {
                "session": self.session,
                "agrees": self.agrees,
                "fills_compared": self.fills_compared,
                "fills_matched": self.fills_matched,
                "backtest_fills_in_span": self.backtest_fills_in_span,
                "fill_differences": self.fill_differences,
                "gate": self.gate,
                "max_abs_tracking_difference": self.max_abs_tracking,
                "daily": daily.to_dict(orient="records"),
            }
        )


def _daily(equity: pd.Series, start: float) -> pd.DataFrame:
    days = equity.groupby(equity.index.floor("D")).last()
    prev = np.concatenate([[start], days.to_numpy()[:-1]])
    return pd.DataFrame({"equity": days, "ret": days.to_numpy() / prev - 1.0})


def _fill_key(time: pd.Timestamp, asset: str, shares: float, price: float, cost: float) -> dict:
    return {
        "time": time.isoformat(),
        "asset": str(asset),
        "shares": float(shares),
        "price": float(price),
        "cost": float(cost),
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["time"] != b["time"] or a["asset"] != b["asset"]:
        return False
    return all(abs(a[k] - b[k]) <= _TOL * max(1.0, abs(b[k])) for k in ("shares", "price", "cost"))


def paper_report(ws: Workspace, session_id: int) -> PaperReport:
    """Compare session ``session_id`` with the event backtest of its spec."""
    from alphaloop.app.backtests import run_backtest
    from alphaloop.execution import COST_CATEGORIES

    store = paper_store(ws)
    info = store.get(session_id)
    spec = StrategySpec.from_dict(info.spec, source=f"paper session {info.id}")
    pinned = spec.model_copy(update={"version": info.data_version})
    bt = run_backtest(ws, pinned, engine="event", record=False).simulation
    recorded = store.equity(session_id)
    paper_eq = recorded["equity"][recorded["row"] >= info.first_row]
    capital = float(bt.initial_capital)
    # the span the session has recorded (nothing before its first trading bar)
    last = paper_eq.index[-1] if len(paper_eq) else bt.equity.index[0] - pd.Timedelta(1, "ns")
    bt_eq = bt.equity[bt.equity.index <= last]
    p, b = _daily(paper_eq, capital), _daily(bt_eq, capital)
    daily = pd.DataFrame(
        {
            "paper_equity": p["equity"],
            "backtest_equity": b["equity"],
            "paper_return": p["ret"],
            "backtest_return": b["ret"],
        }
    )
    daily["tracking_difference"] = daily["paper_return"] - daily["backtest_return"]
    daily["paper_pnl"] = daily["paper_equity"].diff().fillna(daily["paper_equity"] - capital)
    daily.index.name = "day"
    fills = store.fills(session_id)
    trades = bt.trades[bt.trades["time"] <= last]
    cost_cols = [c for c in COST_CATEGORIES[:5] if c in trades.columns]
    bt_costs = trades[cost_cols].sum(axis=1).to_numpy() if cost_cols else np.zeros(len(trades))
    bt_list = [
        _fill_key(t, a, q, px, c)
        for t, a, q, px, c in zip(
            trades["time"], trades["asset"], trades["shares"], trades["price"], bt_costs,
            strict=True,
        )
    ]  # fmt: skip
    paper_list = [
        _fill_key(t, a, q, px, c)
        for t, a, q, px, c in zip(
            fills["time"], fills["asset"], fills["quantity"], fills["price"], fills["cost"],
            strict=True,
        )
    ]  # fmt: skip
    diffs, matched = [], 0
    for k in range(max(len(paper_list), len(bt_list))):
        a = paper_list[k] if k < len(paper_list) else None
        e = bt_list[k] if k < len(bt_list) else None
        if a is not None and e is not None and _same(a, e):
            matched += 1
        elif len(diffs) < _MAX_LISTED:
            diffs.append({"n": k + 1, "paper": a, "backtest": e})
    return PaperReport(
        session=info.to_dict(),
        daily=daily,
        fills_compared=len(paper_list),
        fills_matched=matched,
        fill_differences=diffs,
        backtest_fills_in_span=len(bt_list),
        gate=decision_summary(read_decisions(ws.db, session_id)),
    )


def _gate_line(gate: dict[str, Any]) -> str:
    if not gate.get("commands"):
        return "no order or rebalance"
    stages = ", ".join(f"{k} {v}" for k, v in sorted(gate["refused_by_stage"].items()))
    return (f"{gate['sent']} sent, {gate['refused']} refused{f' ({stages})' if stages else ''}, "
            f"{gate['held']} waiting for approval")  # fmt: skip


def write_paper_report(report: PaperReport, path: str | Path) -> Path:
    """Write the comparison as a self-contained HTML page (plotly inlined)."""
    import plotly.graph_objects as go

    from alphaloop.reports import BASE_CSS, axis_values, chart_layout, figures_to_html, plotly_js
    from alphaloop.reports import write_atomic as _write

    d = report.daily
    x = axis_values(d.index)
    eq = go.Figure()
    eq.add_scatter(x=x, y=d["backtest_equity"], name="backtest")
    eq.add_scatter(x=x, y=d["paper_equity"], name="paper", line={"dash": "dot"})
    eq.update_layout(**chart_layout("Equity: paper vs backtest (currency)"))
    td = go.Figure()
    td.add_bar(x=x, y=d["tracking_difference"], name="tracking difference")
    td.update_layout(**chart_layout("Tracking difference per day (paper minus backtest return)"))
    pnl = go.Figure()
    pnl.add_bar(x=x, y=d["paper_pnl"], name="daily P&L")
    pnl.update_layout(**chart_layout("Daily P&L of the paper account (currency)"))
    divs = figures_to_html({"equity": eq, "tracking": td, "pnl": pnl})
    s = report.session
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in (
            ("session", s["id"]),
            ("strategy", s["name"]),
            ("feed", s["feed"]),
            ("status", s["status"]),
            ("bars recorded", f"{s['position']} of {s['n_bars']}"),
            ("fills matched", f"{report.fills_matched} of {report.fills_compared} "
             f"(backtest: {report.backtest_fills_in_span})"),
            ("max |tracking difference| per day", f"{report.max_abs_tracking:.3g}"),
            ("agrees with the backtest", "yes" if report.agrees else "NO"),
            ("autonomy", s.get("autonomy", "")),
            ("gate", _gate_line(report.gate)),
        )
    )  # fmt: skip
    diff_rows = "".join(
        f"<tr><td>{d['n']}</td><td>{html.escape(str(d['paper']))}</td>"
        f"<td>{html.escape(str(d['backtest']))}</td></tr>"
        for d in report.fill_differences
    )
    diff_table = (
        f"<h2>Differing fills</h2><table><tr><th>#</th><th>paper</th><th>backtest</th></tr>"
        f"{diff_rows}</table>"
        if diff_rows
        else "<p>Every paper fill equals the backtest's.</p>"
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Paper session {s["id"]}: paper vs backtest</title><style>{BASE_CSS}</style>
<script>{plotly_js()}</script></head><body>
<h1>Paper session {s["id"]}: {html.escape(str(s["name"]))}</h1>
<p class="subtitle">paper trading compared with the event backtest of the same spec</p>
<table>{rows}</table>
<div class="figure">{divs["equity"]}</div>
<div class="figure">{divs["tracking"]}</div>
<div class="figure">{divs["pnl"]}</div>
{diff_table}
</body></html>"""
    out = Path(path)
    _write(out, page)
    return out
