"""Tools that only read: datasets, factors, the strategy database, the registry, the run log.

Each method is one tool (its docstring is the tool's description, its typed
parameters the input schema). They read through the workspace as the CLI's
reading commands do, so the sealed holdout is refused or clipped exactly as
there. Factor values are returned as summary statistics and a capped sample,
never as a whole array.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

if TYPE_CHECKING:
    from alphaloop.app import Workspace

__all__ = ["MAX_SAMPLE_ROWS", "ReadTools"]

MAX_SAMPLE_ROWS = 200
"""Most factor-value rows a ``factor_eval`` answer carries."""

Dataset = Annotated[str, Field(description="Dataset name, as listed by data_list.")]
Start = Annotated[
    str | None,
    Field(description="First timestamp returned, ISO date (e.g. 2015-01-01); default: the first."),
]
End = Annotated[
    str | None,
    Field(description="Last timestamp used, ISO date; default: the end of the search span."),
]
Compat = Annotated[
    Literal["strict", "qlib"],
    Field(description="Expression semantics: strict (alphaloop's) or qlib (Qlib's)."),
]
Limit = Annotated[int, Field(ge=1, le=500, description="How many rows, at most.")]


class ReadTools:
    """The read-only tools over one workspace.

    Parameters
    ----------
    ws : Workspace
        The workspace the server was started on.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    # ------------------------------------------------------------------ data
    def data_list(self) -> dict[str, Any]:
        """Every dataset in the workspace (bundled and imported): name, assets, fields, span,
        frequency, market. Spans are the stored data; the sealed holdout at the end of each
        dataset is never readable through these tools."""
        return {"datasets": [i.to_dict() for i in self.ws.data.list()]}

    def data_describe(
        self,
        name: Dataset,
        version: Annotated[int | None, Field(description="Version; default the latest.")] = None,
        preview_rows: Annotated[
            int, Field(ge=0, le=50, description="Preview rows (the last before the holdout).")
        ] = 5,
    ) -> dict[str, Any]:
        """One dataset in full: fields, assets, span, caveats (e.g. survivorship), quality,
        content hash, where its sealed holdout starts, and its last rows before the holdout."""
        import json

        info = self.ws.data.info(name, version)
        doc = info.to_dict(full=True)
        boundary = self.ws.data.holdout_boundary(name, version)
        doc["holdout_start"] = None if boundary is None else boundary.isoformat()
        doc["preview"] = []
        if preview_rows:
            preview = self.ws.data.preview(name, preview_rows, version)
            doc["preview"] = json.loads(preview.to_json(orient="records", date_format="iso"))
        return doc

    # --------------------------------------------------------------- factors
    def factor_eval(
        self,
        expression: Annotated[
            str, Field(description="Factor expression, e.g. 'Mean($close, 5) / $close'.")
        ],
        data: Dataset,
        start: Start = None,
        end: End = None,
        compat: Compat = "strict",
        max_rows: Annotated[
            int,
            Field(
                ge=0,
                le=MAX_SAMPLE_ROWS,
                description=f"Factor values returned (the last ones), at most {MAX_SAMPLE_ROWS}.",
            ),
        ] = 20,
    ) -> dict[str, Any]:
        """Evaluate a factor expression on a dataset: coverage, mean and standard deviation,
        cross-sectional summary on the last date, and a capped sample of the last values
        (time, asset, value). Not the whole array: `rows_total` says how many values exist."""
        from alphaloop.app import evaluate_dataset

        result = evaluate_dataset(
            self.ws.data,
            {expression: expression},
            data,
            start=start,
            end=end,
            mode=compat,
            workspace=self.ws,
        )
        summary = result.summary()
        summary["factor"] = summary.pop("factors")[expression]
        values = result.values[expression]
        mask = result.panel.membership & ~np.isnan(values)
        times, assets = np.nonzero(mask)
        total = len(times)
        keep = slice(max(0, total - max_rows), total)
        index, ids = result.panel.index, result.panel.assets
        summary["sample"] = [
            {"time": index[t].isoformat(), "asset": str(ids[a]), "value": float(values[t, a])}
            for t, a in zip(times[keep], assets[keep], strict=True)
        ]
        summary["rows_total"] = total
        summary["rows_returned"] = len(summary["sample"])
        if total > len(summary["sample"]):
            summary["sample_note"] = (
                f"{len(summary['sample'])} of {total:,} values returned (the last ones); "
                "the CLI's `alphaloop factor eval --out FILE` writes them all"
            )
        return summary

    def factor_analyze(
        self,
        target: Annotated[
            str,
            Field(
                description="A factor expression, or a factor library's name "
                "(see factor_libraries) to analyze every factor in it."
            ),
        ],
        data: Dataset,
        horizon: Annotated[int, Field(ge=1, description="Forward-return horizon in bars.")] = 1,
        quantiles: Annotated[int, Field(ge=2, le=20, description="Quantile buckets.")] = 5,
        start: Start = None,
        end: End = None,
        compat: Compat = "strict",
        analysis_mode: Annotated[
            Literal["auto", "cross-section", "time-series"],
            Field(description="auto picks time-series when there are too few assets."),
        ] = "auto",
        market: Annotated[
            str, Field(description="A single-asset dataset as the market, 'auto' or 'none'.")
        ] = "auto",
        known: Annotated[
            list[str] | None,
            Field(
                description="Datasets of known factors to test orthogonality against "
                "([] for none); default: the workspace's (e.g. factor-etfs)."
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Analyze a factor (or a library of factors) against forward returns on the search
        span: IC, rank IC, ICIR, HAC t-statistic, decay, turnover, quantile returns, and for a
        library the multiple-testing adjustment over the factors tested."""
        from alphaloop.app import analyze_dataset

        result = analyze_dataset(
            self.ws.data,
            target,
            data,
            horizon=horizon,
            quantiles=quantiles,
            start=start,
            end=end,
            mode=compat,
            library_root=self.ws.root,
            workspace=self.ws,
            analysis_mode=analysis_mode,
            market=market,
            known=known,
        )
        return result.to_dict()

    def factor_libraries(self) -> dict[str, Any]:
        """Built-in and workspace factor libraries with their factors' formulas."""
        from alphaloop.factors import list_libraries

        return {"libraries": [lib.to_dict() for lib in list_libraries(self.ws.root)]}

    # ------------------------------------------------------------ strategies
    def strategies_top(
        self,
        metric: Annotated[
            str, Field(description="sharpe (annualized), or a metric name, e.g. sortino_ratio.")
        ] = "sharpe",
        limit: Limit = 10,
        data: Annotated[str | None, Field(description="Only strategies on this dataset.")] = None,
        session: Annotated[int | None, Field(description="Only this research session's.")] = None,
        passed_only: Annotated[
            bool, Field(description="Only strategies that passed the validation gate.")
        ] = False,
    ) -> dict[str, Any]:
        """The best evaluated strategies in the strategy database by a metric, highest first
        (search-span numbers), with the number of strategies tried on the dataset."""
        db = self.ws.strategies
        rows = db.top(
            metric, limit, dataset=data, session_id=session, passed=True if passed_only else None
        )
        doc: dict[str, Any] = {"strategies": rows}
        if data is not None:
            doc["n_trials"] = db.n_trials(data)
        return doc

    def strategies_recent(
        self,
        limit: Limit = 20,
        data: Annotated[str | None, Field(description="Only strategies on this dataset.")] = None,
    ) -> dict[str, Any]:
        """The latest evaluations in the strategy database, any outcome, newest first."""
        return {"strategies": self.ws.strategies.recent(limit, dataset=data)}

    def strategies_show(
        self,
        ref: Annotated[
            str, Field(description="Strategy hash or a unique prefix of at least 6 hex digits.")
        ],
    ) -> dict[str, Any]:
        """One strategy in full: spec, classification, models used, parents, and every
        evaluation with its metrics and validation verdict (return series left out)."""
        db = self.ws.strategies
        record = db.get(ref)
        parentage = db.parentage(record.hash)
        evaluations = []
        for ev in db.strategy_evaluations(record.hash):
            doc = asdict(ev)
            returns = doc.pop("returns")
            doc["n_returns"] = None if returns is None else len(returns)
            evaluations.append(doc)
        return {
            **asdict(record),
            "parents": asdict(parentage) if parentage is not None else None,
            "evaluations": evaluations,
        }

    def strategies_underexplored(
        self,
        data: Annotated[str | None, Field(description="Only strategies on this dataset.")] = None,
    ) -> dict[str, Any]:
        """Kinds of strategy (kind, family, logic) by how few have been evaluated."""
        return {"kinds": self.ws.strategies.underexplored(data)}

    # ---------------------------------------------------------------- models
    def models_list(
        self,
        name: Annotated[str | None, Field(description="Only this model.")] = None,
        stage: Annotated[
            str | None, Field(description="Only this stage: candidate, production, archived.")
        ] = None,
    ) -> dict[str, Any]:
        """Registered model versions in the model registry, newest first, with their
        out-of-sample metrics."""
        return {"models": [v.to_dict() for v in self.ws.models.list(name=name, stage=stage)]}

    def model_show(
        self,
        ref: Annotated[str, Field(description="NAME (latest), NAME/vN or NAME@stage.")],
    ) -> dict[str, Any]:
        """One model version: metadata, metrics, rolling segments, lineage, usage by
        strategies, stage history and drift alerts."""
        from alphaloop.app.models import rolling_segments

        reg = self.ws.models
        v = reg.get(ref)
        doc = v.to_dict()
        doc["segments"] = rolling_segments(v)
        doc["lineage"] = [x.ref for x in reg.lineage(v.ref)]
        doc["usage"] = [u.to_dict() for u in reg.usage(v.ref)]
        doc["stage_history"] = [c.to_dict() for c in reg.stage_history(v.ref)]
        doc["alerts"] = [asdict(a) for a in reg.alerts(v.ref)]
        return doc

    # ------------------------------------------------------------------ runs
    def runs_list(
        self,
        kind: Annotated[
            str | None, Field(description="Only runs of this kind, e.g. backtest, validate.")
        ] = None,
        limit: Limit = 20,
    ) -> dict[str, Any]:
        """Recent runs in the run log, newest first, with the data they read (content hashes)."""
        return {"runs": self.ws.runs.list(kind, limit)}

    def runs_show(
        self, run_id: Annotated[int, Field(ge=1, description="Run id (see runs_list).")]
    ) -> dict[str, Any]:
        """One run in full: parameters, result, data hashes, outcome and times."""
        return self.ws.runs.get(run_id)
