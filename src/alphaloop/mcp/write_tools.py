"""Tools that record something in the workspace: backtest, validate, factor library, model training.

Offered only when the server is started with ``allow_writes``. A backtest
and a validation record runs in the run log and trials in the strategy
database (every evaluated spec counts in the deflated Sharpe's number of
trials); a library is saved under the workspace; a trained model is
registered. None of them reads the sealed holdout: the use cases refuse it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import Field

from alphaloop.errors import SpecError

if TYPE_CHECKING:
    from alphaloop.app import Workspace

__all__ = ["WriteTools", "parse_document"]

SpecInput = Annotated[
    str | dict[str, Any],
    Field(
        description="A strategy spec: YAML or JSON text, or an object with the same fields "
        "(name, data, signal, portfolio, rebalance, fills, start, end, costs, ...)."
    ),
]


def parse_document(value: str | dict[str, Any], what: str) -> dict[str, Any]:
    """A spec given as YAML/JSON text or as an object, as a dict.

    Raises
    ------
    SpecError
        The text is not YAML/JSON, or not a mapping.
    """
    if isinstance(value, dict):
        return value
    try:
        doc = yaml.safe_load(value)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise SpecError(f"the {what} is not valid YAML or JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SpecError(
            f"the {what} must be a mapping of fields, got {type(doc).__name__}",
            hint="give an object such as {name: ..., data: ..., signal: {expr: ...}}",
        )
    return doc


class WriteTools:
    """The tools that write to the workspace.

    Parameters
    ----------
    ws : Workspace
        A writable workspace.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def backtest(
        self,
        spec: SpecInput,
        engine: Annotated[
            Literal["vectorized", "event"],
            Field(description="vectorized (fast) or event (order by order); same numbers."),
        ] = "vectorized",
        max_trades: Annotated[
            int, Field(ge=0, le=200, description="Fills listed in the answer, at most.")
        ] = 0,
    ) -> dict[str, Any]:
        """WRITES: backtest a strategy spec (costs on, fills at the next bar unless the spec
        says otherwise) on the search span, RECORDING a backtest run in the run log and a trial
        in the strategy database. Returns the metrics, assumptions, caveats, implausibility
        flags and the number of strategies tried on the dataset (n_trials)."""
        from alphaloop.app import run_backtest
        from alphaloop.backtest import StrategySpec

        parsed = StrategySpec.from_dict(parse_document(spec, "strategy spec"), source="spec")
        result = run_backtest(self.ws, parsed, engine=engine)
        doc = result.to_dict(max_trades=max_trades)
        doc.pop("round_trips", None)
        return doc

    def validate(self, spec: SpecInput) -> dict[str, Any]:
        """WRITES: validate a strategy spec, RECORDING a validate run and its backtests (trials)
        in the workspace: probabilistic and deflated Sharpe with the number of trials, PBO,
        walk-forward, regimes, SPA, a signal permutation test, and the verdict of the
        validation gates (passed, reasons). All on the search span, never the holdout."""
        from alphaloop.app import validate_spec
        from alphaloop.backtest import StrategySpec

        parsed = StrategySpec.from_dict(parse_document(spec, "strategy spec"), source="spec")
        doc = validate_spec(self.ws, parsed).to_dict()
        doc.pop("metrics", None)  # the backtest tool has them; the verdict is the point here
        return doc

    def factor_library_add(
        self,
        library: Annotated[
            str | dict[str, Any],
            Field(
                description="A factor library: YAML/JSON text or an object with name, "
                "description and factors (a mapping of factor name to expression)."
            ),
        ],
    ) -> dict[str, Any]:
        """WRITES: validate a factor library (no factor may read the future) and SAVE it in
        the workspace, where factor_analyze and expressions (Factor("lib/name")) can use it."""
        from alphaloop.factors import save_library

        doc = parse_document(library, "factor library")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "library.yaml"
            path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
            lib = save_library(self.ws.root, path)
        return {"name": lib.name, "factors": len(lib.factors), "path": lib.source}

    def model_train(
        self,
        spec: Annotated[
            str | dict[str, Any],
            Field(description="A model spec: YAML/JSON text or an object with the same fields."),
        ],
    ) -> dict[str, Any]:
        """WRITES: train a model from a model spec on purged splits of the search span (never
        the holdout) and REGISTER it in the model registry as NAME/vN, recording a run."""
        from alphaloop.app import train_from_spec
        from alphaloop.models import ModelSpec

        parsed = ModelSpec.from_dict(parse_document(spec, "model spec"), source="model spec")
        return train_from_spec(self.ws, parsed).to_dict()
