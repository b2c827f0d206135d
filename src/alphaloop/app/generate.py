"""``generate``: a natural-language strategy idea becomes a validated, backtested spec.

:func:`generate_strategy` runs, on one dataset of the workspace:

1. the draft (:func:`~alphaloop.app.generate_draft.make_draft`): a language
   model's :class:`~alphaloop.research.draft.StrategyDraft`, or the offline
   intent parser's, made into a spec by code with every assumption listed;
2. the lookahead scan of the spec (a spec that reads the future stops here);
3. the validation (:func:`~alphaloop.app.validation.validate_spec`): a
   backtest on the research span (the sealed holdout is never read), which
   records the strategy (origin ``generate``) and counts it as a trial of
   the dataset, then PSR, the deflated Sharpe ratio with the trial count,
   PBO, walk-forward, SPA, the permutation test and the verdict;
4. regime sensitivity: the backtest's returns split by the market's
   (the universe's equal-weight) trailing volatility terciles, cut at
   expanding quantiles, and by bull / bear (trailing 200-bar return above or
   below zero), each label from data up to its bar only;
5. the memorisation guard: the same backtest's returns on the bars after the
   model's knowledge cut-off (:func:`~alphaloop.llm.post_cutoff_span`),
   reported first; or why there is no such figure.

With ``allow_code`` the model may write the signal as Python code
(:class:`~alphaloop.research.draft.CodeSignal`) when no template or
expression says the idea; the code is checked against the sandbox's
allowlist, runs only in the sandbox and goes through the same scan and
validation; the result's ``signal_origin`` is then ``model_code``.

Everything is recorded as a ``generate`` run holding the intent, the draft,
its source and the summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.app.generate_draft import DraftSource, make_draft
from alphaloop.app.validation import ValidationReport, validate_spec
from alphaloop.errors import IntentError
from alphaloop.jsonsafe import json_safe
from alphaloop.research.strategy_records import spec_kind, spec_models

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import LookaheadReport
    from alphaloop.progress import Progress
    from alphaloop.research.draft import GeneratedSpec

__all__ = ["GenerationResult", "generate_strategy", "post_cutoff_figure", "regime_sensitivity"]

_HEADLINE = ("sharpe_ratio", "annual_return", "annual_volatility", "max_drawdown", "total_return")
BULL_BEAR_WINDOW = 200
"""Bars of the trailing market return that labels a bar bull (> 0) or bear (<= 0)."""


@dataclass(frozen=True)
class GenerationResult:
    """What :func:`generate_strategy` found. ``validation`` is None when the scan failed."""

    intent: str
    generated: GeneratedSpec
    source: DraftSource
    lookahead: LookaheadReport
    validation: ValidationReport | None
    regimes: dict[str, Any] | None
    post_cutoff: dict[str, Any]
    run_id: int | None = None

    @property
    def status(self) -> str:
        """``validated`` (passed every gate), ``rejected`` (failed one) or ``lookahead``."""
        if self.validation is None:
            return "lookahead"
        return "validated" if self.validation.verdict.passed else "rejected"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``post_cutoff`` (the memorisation guard's figure) first."""
        spec = self.generated.spec
        val = self.validation.to_dict() if self.validation is not None else None
        return json_safe(
            {
                "post_cutoff": self.post_cutoff,
                "status": self.status,
                "intent": self.intent,
                "source": self.source.to_dict(),
                "signal_origin": "model_code" if self.generated.model_code else "spec",
                "assumptions": list(self.generated.assumptions),
                "draft": self.generated.draft.model_dump(mode="json"),
                "expression": self.generated.expression,
                "spec": spec.model_dump(mode="json"),
                "spec_hash": spec.hash,
                "lookahead": {
                    "clean": self.lookahead.clean,
                    "offending_outputs": list(self.lookahead.offending_outputs),
                    "coverage": self.lookahead.coverage(),
                },
                "metrics": {k: val["metrics"].get(k) for k in _HEADLINE} if val else None,
                "validation": {k: v for k, v in val.items() if k != "metrics"} if val else None,
                "n_trials": val["n_trials"] if val else None,
                "regimes": self.regimes,
                "run_id": self.run_id,
            }
        )


def _summary(returns: pd.Series, ppy: float) -> dict[str, Any]:
    """Headline metrics of simple per-bar returns (annualized with ``ppy``)."""
    from alphaloop.backtest.metrics import compute_metrics

    metrics = compute_metrics(returns, periods_per_year=ppy)
    return {k: metrics.get(k) for k in _HEADLINE} | {"n_bars": len(returns)}


def post_cutoff_figure(
    returns: pd.Series, ppy: float, source: DraftSource, cutoff: Any
) -> dict[str, Any]:
    """The memorisation guard's figure: metrics of ``returns`` after ``cutoff``, or why not.

    ``returns`` are the backtest's on the research span (the holdout is not
    in them). With no cut-off, or too few bars after it, ``available`` is
    False and ``reason`` says why.
    """
    from alphaloop.llm import post_cutoff_span

    span = post_cutoff_span(returns.index, cutoff)
    out: dict[str, Any] = {
        "llm_originated": source.origin == "llm",
        **span.as_dict(),
        "available": span.available,
    }
    if source.origin != "llm" and span.reason is not None:
        out["reason"] = f"{span.reason} (the draft came from the offline parser)"
    if span.available:
        index = returns.index
        naive = index.tz_convert(None) if getattr(index, "tz", None) is not None else index
        part = returns[(naive >= span.start) & (naive <= span.end)]
        out["metrics"] = _summary(part, ppy)
    return out


def regime_sensitivity(
    returns: pd.Series, market: pd.Series | None, ppy: float
) -> dict[str, Any] | None:
    """Metrics per causal market regime: volatility terciles and bull / bear.

    Volatility: the market's trailing volatility over a quarter of bars
    (``ppy / 4``), cut at the expanding 33rd / 67th percentiles of the values
    seen up to each bar (a year of them at least). Bull / bear: the market's
    compounded return over the trailing :data:`BULL_BEAR_WINDOW` bars above
    zero, or not. Trailing windows include the current bar. None without a
    market series.
    """
    from alphaloop.validation import regime_performance

    if market is None or market.notna().sum() < 2 * BULL_BEAR_WINDOW:
        return None
    market = market.fillna(0.0)
    window = max(2, round(ppy / 4))
    vol = regime_performance(
        returns,
        market,
        periods_per_year=ppy,
        window=window,
        volatility_cuts="expanding",
        min_history=max(2, round(ppy)),
        crisis_windows=(),
    )
    trend = regime_performance(
        returns,
        market,
        periods_per_year=ppy,
        window=BULL_BEAR_WINDOW,
        trend_threshold=0.0,
        volatility_cuts="expanding",
        min_history=max(2, round(ppy)),
        crisis_windows=(),
    )
    keys = ("n_bars", "annual_return", "annual_volatility", "sharpe_ratio", "max_drawdown")
    rows = []
    for r in vol.regimes:
        if r.kind == "volatility":
            rows.append(
                {"split": "volatility", "regime": r.name} | {k: getattr(r, k) for k in keys}
            )
    names = {"up": "bull", "down": "bear"}
    for r in trend.regimes:
        if r.kind == "trend" and r.name in names:
            rows.append(
                {"split": "bull_bear", "regime": names[r.name]} | {k: getattr(r, k) for k in keys}
            )
    sharpes = [r["sharpe_ratio"] for r in rows if r["n_bars"] >= 20]
    finite = [s for s in sharpes if s is not None and math.isfinite(s)]
    return json_safe(
        {
            "rows": rows,
            "volatility_window": window,
            "bull_bear_window": BULL_BEAR_WINDOW,
            "worst_sharpe": min(finite) if finite else None,
            "best_sharpe": max(finite) if finite else None,
            "share_positive": sum(s > 0 for s in finite) / len(finite) if finite else None,
        }
    )


def _record_strategy(ws: Workspace, made: GeneratedSpec) -> None:
    """Store the spec as a generated strategy (before its backtest stores it as manual)."""
    signal = made.draft.signal
    family = getattr(signal, "family", "code" if made.model_code else "custom")
    ws.strategies.record_strategy(
        made.spec,
        kind=spec_kind(made.spec),
        family=family,
        models=spec_models(made.spec),
        origin="generate",
    )


def generate_strategy(
    ws: Workspace,
    intent: str,
    data: str,
    *,
    settings: Any = None,
    offline: bool = False,
    seed: int = 0,
    client: Any = None,
    progress: Progress | None = None,
    allow_code: bool = False,
) -> GenerationResult:
    """Turn ``intent`` into a spec on ``data``, scan, backtest, validate and measure it.

    Parameters
    ----------
    ws : Workspace
    intent : str
        The idea in plain words.
    data : str
        Dataset name in the workspace.
    settings : LLMSettings, optional
        The model to ask; None (or ``offline``) uses the offline parser.
    offline : bool
        Never ask a model.
    seed : int
        For the model request, the lookahead scan and the validation's
        resampling tests.
    client : LLMClient, optional
        Use this client instead of one made from ``settings``.
    progress : Progress, optional
    allow_code : bool
        Let the model write the signal as Python code (run in the sandbox).

    Raises
    ------
    IntentError
        An empty idea, or one the offline parser cannot read when it is needed.
    DatasetNotFoundError
        No dataset ``data``.
    DraftError
        The offline draft does not make a spec on this dataset.
    """
    from alphaloop.app.backtests import scan_spec

    if not str(intent).strip():
        raise IntentError("the strategy idea is empty", hint='say what to trade, e.g. "momentum"')
    info = ws.data.info(data)
    params = {"intent": intent, "data": data, "offline": offline, "seed": seed}
    if allow_code:
        params["allow_code"] = True
    with ws.runs.start("generate", params) as run:
        made, source = make_draft(
            intent,
            info,
            settings=settings,
            offline=offline,
            seed=seed,
            client=client,
            allow_code=allow_code,
        )
        run.params.update(source=source.to_dict(), spec_hash=made.spec.hash)
        _record_strategy(ws, made)
        scan = scan_spec(ws, made.spec, seed=seed, progress=progress)
        validation = regimes = None
        cutoff = settings.knowledge_cutoff if settings is not None else None
        if client is not None:
            cutoff = client.settings.knowledge_cutoff
        post: dict[str, Any] = {
            "llm_originated": source.origin == "llm",
            "available": False,
            "reason": "the lookahead scan failed: the spec was not backtested",
        }
        if scan.clean:
            validation = validate_spec(ws, made.spec, seed=seed, progress=progress)
            bt = validation.backtest
            returns = bt.simulation.returns
            ppy = float(bt.metrics["periods_per_year"])
            regimes = regime_sensitivity(returns, bt.benchmark, ppy)
            post = post_cutoff_figure(returns, ppy, source, cutoff)
        result = GenerationResult(
            intent, made, source, scan, validation, regimes, post, run_id=run.id
        )
        run.data_hashes = {data: info.content_hash}
        doc = result.to_dict()
        run.result = {k: doc[k] for k in ("post_cutoff", "status", "spec_hash", "n_trials")}
    return result
