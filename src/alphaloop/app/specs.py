"""Where a strategy spec comes from: a file, the quick-form options, or a recorded run.

The CLI and the REST service resolve specs through these functions, so both
refuse the same combinations with the same messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alphaloop.backtest.spec import StrategySpec, load_spec, quick_spec
from alphaloop.errors import SpecError

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = ["resolve_spec", "spec_from_run"]


def resolve_spec(
    spec_path: str | Path | None,
    expr: str | None,
    data: str | None,
    top_k: int = 5,
    weighting: str = "equal",
    rebalance: str = "monthly",
    fills: str = "next_open",
    start: str | None = None,
    end: str | None = None,
) -> StrategySpec:
    """The spec from a file, or built from the quick-form options (not both)."""
    if spec_path is not None:
        if expr is not None or data is not None:
            raise SpecError("give either a spec file or --expr/--data, not both")
        return load_spec(spec_path)
    if expr is None or data is None:
        raise SpecError(
            "nothing to run: give a spec file, or --expr EXPR --data NAME",
            hint="e.g. alphaloop backtest --expr '$close/Ref($close,20)-1' --data sp500-ohlcv",
        )
    return quick_spec(
        expr,
        data,
        top_k=top_k,
        weighting=weighting,
        rebalance=rebalance,
        fills=fills,
        start=start,
        end=end,
    )


def spec_from_run(ws: Workspace, run_id: int) -> StrategySpec:
    """The strategy spec a recorded run evaluated.

    Raises
    ------
    RunNotFoundError
        No run with that id.
    SpecError
        The run evaluated no strategy spec (e.g. a model training run).
    """
    run = ws.runs.get(run_id)
    spec = (run["params"] or {}).get("spec")
    if not spec:
        raise SpecError(f"run {run_id} ({run['kind']}) has no strategy spec")
    return StrategySpec.from_dict(spec, source=f"run {run_id}")
