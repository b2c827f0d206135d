"""The model improver: propose a change to a registered model, keep it only on a significant win.

:meth:`ModelImprover.improve` takes a registered version, rebuilds its spec,
tries up to ``max_proposals`` changes (:mod:`~alphaloop.research.model_proposals`),
scores each with the evaluator on validation folds, and compares it with
the incumbent, scored the same way, date by date
(:mod:`~alphaloop.research.paired_test`). The best significant winner is
trained and registered as the next version of the same name, superseding
the incumbent; its note records the test. Strategies discover it through
the registry (``registry.latest(name)``).

Conventions
-----------
Data
    Every evaluation and the retraining use the incumbent's data span: a
    spec without an ``end`` gets the incumbent's label end as its ``end``,
    so no proposal sees a bar the incumbent did not. The evaluator scores
    cross-validated out-of-sample predictions inside that span (validation
    folds of the search span): never the holdout, never later data.
Decision
    A proposal wins when its mean per-date IC gain exceeds ``margin`` and the
    one-sided Wilcoxon signed-rank p-value (every ``horizon``-th common date)
    is below ``alpha / k``, ``k`` the number of proposals scored in this call
    (Bonferroni: the chance that any of the ``k`` no-better proposals wins
    stays below ``alpha``). The paired t-test is recorded beside it. Among
    winners the largest mean gain is registered.
Determinism
    Proposals are drawn with ``numpy.random.default_rng([seed, attempt,
    version id])``: the same registry, seed and attempt give the same
    proposals.
Ideas
    With an idea source (``ideas=``, :mod:`~alphaloop.research.model_ideas`,
    e.g. a language model), the incumbent is scored first and the source is
    asked for up to ``max_proposals`` changes, given the incumbent's spec and
    mean validation IC only. Its proposals are scored and counted in ``k``
    like the offline ones; when it gives none, the offline proposals are
    used, and the result's ``ideas`` record says why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.errors import AlphaloopError
from alphaloop.models.errors import ModelNotFoundError
from alphaloop.models.registry import ModelRegistry
from alphaloop.models.registry_records import ModelVersion
from alphaloop.models.spec import ModelSpec
from alphaloop.research.improvement_records import ImprovementResult, ProposalOutcome
from alphaloop.research.ml_agent import Trainer
from alphaloop.research.model_ideas import IdeaRequest, IdeaSource, ask_source
from alphaloop.research.model_proposals import (
    DEFAULT_FAMILIES,
    DEFAULT_FEATURE_FAMILIES,
    Proposal,
    propose,
)
from alphaloop.research.paired_test import compare_ic

__all__ = [
    "Evaluator",
    "ImprovementResult",
    "ImproverError",
    "ModelImprover",
    "ProposalOutcome",
    "pick_models_for_improvement",
    "version_spec",
]

Evaluator = Callable[[ModelSpec], pd.Series]
"""Per-date validation IC (unitless) of the model a spec describes, indexed by date."""

RECIPE_FILE = "recipe.json"
"""The file in a version's artifact that holds its full spec (written at training)."""


class ImproverError(AlphaloopError):
    """A model cannot be improved: its spec cannot be rebuilt."""


def version_spec(version: ModelVersion) -> ModelSpec:
    """The spec a registered version was trained from, with ``end`` pinned to its label end.

    Read from the artifact's ``recipe.json`` (``spec``); for a version
    without one, rebuilt from the registry row when its features are a
    named library.

    Raises
    ------
    ImproverError
        Neither is possible.
    """
    path = Path(version.artifact_path) / RECIPE_FILE
    data: dict[str, Any] | None = None
    if path.exists():
        data = json.loads(path.read_text()).get("spec")
    if data is None:
        if version.feature_family == "custom":
            raise ImproverError(
                f"cannot rebuild the spec of {version.ref}: it has no {RECIPE_FILE} and its "
                "features are not a named library",
                hint="train it from a ModelSpec (alphaloop model train) to make it improvable",
            )
        label = {k: v for k, v in version.label.items() if k != "target"}
        data = {
            "name": version.name,
            "data": version.dataset,
            "version": version.dataset_version,
            "features": version.feature_family,
            "label": label,
            "model": {"family": version.family, "params": {}},
            "seed": version.seed or 0,
        }
    spec = ModelSpec.model_validate(data)
    if spec.end is None:
        last = version.label_end or version.train_end
        if last is not None:
            spec = spec.model_copy(update={"end": pd.Timestamp(last).tz_convert("UTC").date()})
    return spec


class ModelImprover:
    """Proposes, tests and registers better versions of registered models.

    Parameters
    ----------
    registry : ModelRegistry
    trainer : callable
        ``trainer(spec) -> ModelVersion``: trains and registers.
    evaluator : callable
        ``evaluator(spec) -> pd.Series`` of per-date validation IC, inside
        the spec's span (validation folds only).
    margin : float, default 0.005
        Mean IC gain a proposal must exceed.
    alpha : float, default 0.05
        Family-wise significance level of one call (see the module conventions).
    seed : int, default 0
    max_proposals : int, default 4
    feature_families, families : sequence of str, optional
        Libraries and estimator families proposals may use.
    library_root : Path, optional
        Workspace root for user libraries; default the registry's.
    ideas : IdeaSource, optional
        Asked for proposals before the offline ones (see the module's Ideas).
    """

    def __init__(
        self,
        registry: ModelRegistry,
        trainer: Trainer,
        evaluator: Evaluator,
        *,
        margin: float = 0.005,
        alpha: float = 0.05,
        seed: int = 0,
        max_proposals: int = 4,
        feature_families: Sequence[str] = DEFAULT_FEATURE_FAMILIES,
        families: Sequence[str] = DEFAULT_FAMILIES,
        library_root: Path | None = None,
        ideas: IdeaSource | None = None,
    ) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if max_proposals < 1:
            raise ValueError(f"max_proposals must be >= 1, got {max_proposals}")
        self.registry = registry
        self.trainer = trainer
        self.evaluator = evaluator
        self.margin = float(margin)
        self.alpha = float(alpha)
        self.seed = int(seed)
        self.max_proposals = int(max_proposals)
        self.feature_families = tuple(feature_families)
        self.families = tuple(families)
        self.library_root = library_root if library_root is not None else registry.models_dir.parent
        self.ideas = ideas

    def proposals(self, ref: str, *, attempt: int = 0) -> list[Proposal]:
        """The proposals :meth:`improve` would try for ``ref`` (deterministic)."""
        version = self.registry.get(ref)
        return self._proposals(version, version_spec(version), attempt)

    def _proposals(self, version: ModelVersion, spec: ModelSpec, attempt: int) -> list[Proposal]:
        rng = np.random.default_rng([self.seed, attempt, version.id])
        return propose(
            spec,
            rng,
            feature_families=self.feature_families,
            families=self.families,
            library_root=self.library_root,
            limit=self.max_proposals,
        )

    def improve(self, ref: str, *, attempt: int = 0) -> ImprovementResult:
        """Try proposals against ``ref``; register ``name/v<N+1>`` on a significant win.

        Parameters
        ----------
        ref : str
            A model reference (``name/vN``, ``name``, ``name@stage``).
        attempt : int, default 0
            Round number: another attempt draws other proposals.
        """
        version = self.registry.get(ref)
        spec = version_spec(version)
        incumbent: pd.Series | None = None
        record: dict[str, Any] | None = None
        proposals: list[Proposal] = []
        if self.ideas is not None:
            incumbent = self.evaluator(spec)
            proposals, record = self._ideas(version, spec, _mean_ic(incumbent))
        if not proposals:
            proposals = self._proposals(version, spec, attempt)
        if not proposals:
            return ImprovementResult(
                version.ref,
                (),
                "no proposals",
                None,
                self.alpha,
                self.alpha,
                self.margin,
                math.nan,
                ideas=record,
            )
        if incumbent is None:
            incumbent = self.evaluator(spec)
        step = spec.label.horizon
        k = len(proposals)
        level = self.alpha / k
        outcomes = [self._score(p, incumbent, step, level) for p in proposals]
        wins = [i for i, o in enumerate(outcomes) if o.significant]
        inc_ic = _mean_ic(incumbent)
        if not wins:
            return ImprovementResult(
                version.ref,
                tuple(outcomes),
                "kept",
                None,
                self.alpha,
                level,
                self.margin,
                inc_ic,
                ideas=record,
            )
        best = max(wins, key=lambda i: (outcomes[i].comparison.mean_diff, -i))  # type: ignore[union-attr]
        note = self._note(proposals[best], outcomes[best], k, level)
        new_spec = proposals[best].spec.model_copy(
            update={"name": version.name, "supersedes": version.ref, "note": note}
        )
        new = self.trainer(new_spec)
        return ImprovementResult(
            version.ref,
            tuple(outcomes),
            "registered",
            new.ref,
            self.alpha,
            level,
            self.margin,
            inc_ic,
            winner=best,
            ideas=record,
        )

    def _ideas(
        self, version: ModelVersion, spec: ModelSpec, valid_ic: float
    ) -> tuple[list[Proposal], dict[str, Any]]:
        """The idea source's proposals (at most ``max_proposals``) and its record."""
        assert self.ideas is not None
        request = IdeaRequest(
            ref=version.ref,
            spec=spec,
            valid_ic=None if math.isnan(valid_ic) else valid_ic,
            feature_families=self.feature_families,
            families=self.families,
            limit=self.max_proposals,
            library_root=self.library_root,
        )
        return ask_source(self.ideas, request)

    def _score(
        self, proposal: Proposal, incumbent: pd.Series, step: int, level: float
    ) -> ProposalOutcome:
        spec_dict = proposal.spec.model_dump(mode="json")
        try:
            series = self.evaluator(proposal.spec)
        except AlphaloopError as exc:
            return ProposalOutcome(
                proposal.kind,
                proposal.description,
                spec_dict,
                None,
                False,
                str(exc),
                source=proposal.source,
            )
        cmp = compare_ic(incumbent, series, margin=self.margin, step=step)
        return ProposalOutcome(
            proposal.kind,
            proposal.description,
            spec_dict,
            cmp,
            cmp.beats(level),
            source=proposal.source,
        )

    def _note(self, proposal: Proposal, outcome: ProposalOutcome, k: int, level: float) -> str:
        c = outcome.comparison
        assert c is not None
        w, t = c.wilcoxon, c.t_test
        return (
            f"model improver: {proposal.description}; validation IC {c.mean_incumbent:.4f} -> "
            f"{c.mean_proposal:.4f} (gain {c.mean_diff:.4f} > margin {c.margin:g}); "
            f"test=wilcoxon signed-rank one-sided statistic={w.statistic:.6g} "
            f"p={w.p_value:.3g} n={w.n} (every {c.step}th of {c.n_common} common dates); "
            f"paired t statistic={t.statistic:.4g} p={t.p_value:.3g}; "
            f"level alpha/k={level:.3g} (alpha {self.alpha:g}, k={k} proposals)"
        )


def _mean_ic(series: pd.Series) -> float:
    return float(series.dropna().mean()) if series.notna().any() else math.nan


def pick_models_for_improvement(
    top_strategies: Sequence[dict[str, Any]], registry: ModelRegistry
) -> list[str]:
    """The models the top strategies use, newest version of each name, in rank order.

    Parameters
    ----------
    top_strategies : sequence of dict
        Strategy rows, best first, each with a ``"models"`` list of references.
    registry : ModelRegistry

    Returns
    -------
    list of str
        Concrete ``name/vN`` of the newest version of each model name used,
        deduplicated, first use first. References the registry does not know
        are skipped.
    """
    from alphaloop.models.registry_records import REF_PATTERN

    out: list[str] = []
    for row in top_strategies:
        for ref in row.get("models") or ():
            match = REF_PATTERN.match(ref) if isinstance(ref, str) else None
            if match is None:
                continue
            try:
                newest = registry.latest(match["name"]).ref
            except ModelNotFoundError:
                continue
            if newest not in out:
                out.append(newest)
    return out
