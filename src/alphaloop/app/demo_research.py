"""The demo's research section: a short autonomous session on the bundled S&P 500 stocks.

The strategy agent searches long-only technical strategies on the search
span (the dataset's sealed holdout stays out of reach), every candidate is
scanned for lookahead, backtested walk-forward and gated with every trial
counted; the survivors, if any, are listed with their deflated Sharpe
ratios, and the best is evaluated once on the holdout. The HTML session
report goes into the workspace's ``reports/`` directory.
"""

from __future__ import annotations

from typing import Any

from alphaloop.app.workspace import Workspace

DEMO_GOAL = "robust long-only strategies on the 20 stocks, monthly rebalancing"
#: candidates the demo session evaluates (about a minute on 2 cores)
DEMO_BUDGET = 400


def research_section(ws: Workspace, say: Any, *, budget: int = DEMO_BUDGET) -> dict[str, Any]:
    """Run the demo research session; returns a JSON-ready summary."""
    from alphaloop.app.research import start_research
    from alphaloop.research.session import SessionConfig

    say(f"\n[bold]research[/]: {DEMO_GOAL!r} on sp500-stocks, {budget} candidates")
    path = ws.root / "reports" / "demo-research.html"
    config = SessionConfig(budget=budget, batch_size=50, workers=2, seed=0, picks=1)
    result = start_research(ws, DEMO_GOAL, "sp500-stocks", config, report=path)
    s = result.summary
    c = s["counts"]
    say(
        f"  session {result.session_id}: {c['evaluated']} candidates evaluated "
        f"({c['failed']} crashed), {s['n_survivors']} passed the gate; "
        f"{c['trials_on_dataset']} trials on this dataset in all"
    )
    funnel = ", ".join(f"{r['gate']} {r['left']}" for r in s["funnel"])
    say(f"  funnel (candidates left after each gate): {funnel}")
    for row in s["survivors"][:3]:
        say(
            f"  survivor {row['hash'][:12]} {row['name']}: search-span Sharpe "
            f"{row['sharpe']:.2f}, deflated Sharpe {row['dsr']:.3f} after {row['n_trials']} trials"
        )
    holdout = s.get("holdout") or {}
    if holdout.get("evaluated"):
        for row in holdout.get("strategies", []):
            say(
                f"  sealed holdout, evaluated once after {holdout['trials_before']} trials: "
                f"{row['name']} Sharpe {row['metrics'].get('sharpe_ratio', float('nan')):.2f}"
            )
    else:
        say(f"  sealed holdout not evaluated: {holdout.get('reason', '')}")
    say(f"  session report: {path}")
    return {
        "session_id": result.session_id,
        "evaluated": c["evaluated"],
        "survivors": s["n_survivors"],
        "trials_on_dataset": c["trials_on_dataset"],
        "holdout": holdout,
        "report": str(path),
    }
