"""A seeded workspace for the dashboard tests: bundled data, a user of every role, a small
research session, a backtest and a paper session on the search span, a pending approval, and
a ridge model in two versions (v2 retrained from v1 with a stronger penalty) on the search span."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "researcher", "trader", "admin")
DATA = "factor-etfs"
GOAL = "momentum, technical only"
HOLDOUT_FRACTION = 0.2
MODEL = "web-ridge"
MODEL_SPEC = {
    "name": MODEL,
    "data": DATA,
    "features": {"mom21": "Ref($close, 1) / Ref($close, 21) - 1",
                 "rev5": "Ref($close, 5) / $close - 1"},
    "end": "2020-06-30",  # a search span after it for the drift check
    "label": {"horizon": 5},
    "model": {"family": "ridge"},
    "training": {"n_splits": 3},
}  # fmt: skip


def seed_workspace(root: Path) -> dict[str, object]:
    """Build the workspace at ``root``; answer the ids the tests look for."""
    from alphaloop.api.users import UserStore
    from alphaloop.app import Workspace, open_paper, run_backtest, run_paper
    from alphaloop.app.governance import governance
    from alphaloop.app.models import train_from_spec
    from alphaloop.app.research import start_research
    from alphaloop.backtest import StrategySpec, quick_spec
    from alphaloop.models.spec import ModelSpec
    from alphaloop.research.session_config import SessionConfig

    ws = Workspace(root)
    try:
        ws.data.ensure_bundled()
        ws.data.configure_holdout(DATA, HOLDOUT_FRACTION)  # sealed, as outside the test suite
        users = UserStore(ws.db)
        for role in ROLES:
            users.add(role, PASSWORD, role)
        research = start_research(
            ws, GOAL, DATA, SessionConfig(budget=2, batch_size=2, seed=7, workers=1)
        )
        boundary = ws.data.holdout_boundary(DATA)
        assert boundary is not None
        end = (boundary - timedelta(days=5)).date().isoformat()  # the search span only
        start = (boundary - timedelta(days=240)).date().isoformat()
        base = quick_spec("Ref($close, 1) / Ref($close, 21) - 1", DATA, top_k=2)
        doc = {**base.model_dump(mode="json"), "name": "web-momentum", "fills": "next_close",
               "start": start, "end": end}  # fmt: skip
        spec = StrategySpec.from_dict(doc)
        run_backtest(ws, spec)
        paper, _ = open_paper(ws, spec)
        run_paper(ws, paper.id)
        approval = governance(ws).approvals.request(
            {"asset": "MTUM", "side": "buy", "quantity": 10.0, "session": str(paper.id),
             "strategy": spec.hash},
            actor="system",
        )  # fmt: skip
        first = train_from_spec(ws, ModelSpec.from_dict(MODEL_SPEC)).version
        second = train_from_spec(ws, ModelSpec.from_dict(
            {**MODEL_SPEC, "model": {"family": "ridge", "params": {"alpha": 100.0}},
             "supersedes": first.ref, "note": "retrained with a stronger penalty"}
        )).version  # fmt: skip
        return {
            "models": [first.ref, second.ref],
            "research_session": research.session_id,
            "paper_session": paper.id,
            "approval": approval.id,
            "strategy": spec.hash,
        }
    finally:
        ws.close()


if __name__ == "__main__":
    import sys

    print(seed_workspace(Path(sys.argv[1])))
