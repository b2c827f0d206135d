"""Compare registered model versions on the same splits and span.

:func:`compare_models` re-runs each version's recipe (its stored
:class:`~alphaloop.models.ModelSpec`: features, label, family, parameters,
seed) on the dataset version it was trained on, restricted to the rows
every model can use, and re-evaluates each with the SAME outer splits, so
every model is scored on identical test rows. The statistics are
:func:`alphaloop.models.compare.compare_predictions`'s.

Conventions
-----------
Models
    All versions must be trained on the same dataset and dataset version,
    with the same label horizon, entry lag and price field (they predict
    the same forward return), and with one schedule: all ``cv``, or all
    ``rolling`` with the same ``retrain_every``, ``window`` and ``min_train``.
Common rows and span
    A (date, asset) row is used when every model has a label and complete
    features there (and a full window for sequence models). Rows outside
    this set are neither trained on nor scored, so the span is the common
    one and the universe the assets all models share.
Splits
    Walk-forward over whole dates of the common rows, ``n_splits`` folds
    (default 5), embargo the largest of the specs' embargoes, purged by the
    shared label end times; each fold's model keeps its own spec's
    ``valid_fraction`` for early stopping, its own hyperparameter search and
    its own seed. Every model sees the same training and test dates; the
    comparison checks that the test rows are identical and refuses otherwise.
    Rolling versions are re-run with their shared rolling schedule instead:
    the same segments of the common rows, each segment's model trained only on
    rows whose labels end before it, scored on its own period's common rows.
Trials
    ``n_trials`` for the DSR is the number of versions registered on the
    dataset (every name), and at least the number compared.
Implied portfolio returns
    The one-period return a position decided at ``t`` earns is the label
    price's return from bar ``t + entry_lag`` to ``t + entry_lag + 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.app.models import load_recipe, spec_learning_data, train_spec
from alphaloop.app.workspace import Workspace
from alphaloop.jsonsafe import json_safe
from alphaloop.models import LearningData, ModelError, ModelSpec
from alphaloop.models.compare import ComparisonStats, compare_predictions
from alphaloop.models.families import SEQUENCE_FAMILIES
from alphaloop.progress import Progress, no_progress

__all__ = ["ModelComparison", "compare_models"]

DEFAULT_SPLITS = 5
_LABEL_KEYS = ("horizon", "entry_lag", "price")


@dataclass(frozen=True)
class ModelComparison:
    """Versions compared on identical test rows, and their statistics.

    Attributes
    ----------
    refs : tuple of str
    dataset : str
    dataset_version : int or None
    settings : dict
        Splitter, ``n_splits``, embargo, seeds per model, label and the
        portfolio settings.
    n_rows : int
        Common (date, asset) rows (trained on and tested).
    n_test_rows : int
        Test rows, the same for every model.
    first_test, last_test : pandas.Timestamp
        Span of the scored decision dates.
    stats : ComparisonStats
    run_id : int or None
        The ``model-compare`` run that recorded it.
    test_rows : dict of str to pandas.MultiIndex
        Per model, the (date, asset) rows it was scored on (for audits).
    """

    refs: tuple[str, ...]
    dataset: str
    dataset_version: int | None
    settings: dict[str, Any]
    n_rows: int
    n_test_rows: int
    first_test: pd.Timestamp
    last_test: pd.Timestamp
    stats: ComparisonStats
    run_id: int | None = None
    test_rows: dict[str, pd.MultiIndex] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        stats = self.stats.to_dict()
        stats.pop("settings")  # merged into ``settings``
        return json_safe(
            {
                "refs": list(self.refs),
                "dataset": self.dataset,
                "dataset_version": self.dataset_version,
                "settings": self.settings,
                "n_rows": self.n_rows,
                "n_test_rows": self.n_test_rows,
                "first_test": self.first_test.isoformat(),
                "last_test": self.last_test.isoformat(),
                "run_id": self.run_id,
                **stats,
            }
        )


@dataclass
class _Candidate:
    ref: str
    version: Any
    spec: ModelSpec
    expressions: dict[str, str]
    data: LearningData | None = None
    row_keys: pd.MultiIndex | None = None  # (date, asset) of every row of ``data``
    usable: pd.MultiIndex | None = None  # the rows it can train on


def compare_models(
    ws: Workspace,
    refs: Sequence[str],
    *,
    n_splits: int = DEFAULT_SPLITS,
    quantile: float = 0.2,
    cost_bps: float = 5.0,
    progress: Progress | None = None,
    on_fit: Callable[[str, Any, pd.MultiIndex], None] | None = None,
) -> ModelComparison:
    """Re-evaluate ``refs`` on the same walk-forward splits of their common rows and compare them.

    Parameters
    ----------
    ws : Workspace
    refs : sequence of str
        Two or more version references (``name/vN``, ``name``, ``name@stage``).
    n_splits : int, default=5
        Outer walk-forward folds.
    quantile, cost_bps : float
        The implied long-short portfolio (see :mod:`alphaloop.models.compare`).
    progress : callable, optional
        Hears of each model re-run.
    on_fit : callable, optional
        Called as ``on_fit(ref, record, eval_keys)`` before every fit, with the
        :class:`~alphaloop.models.FitRecord` and the (date, asset) keys of the
        fold's test rows (audits, tests).

    Returns
    -------
    ModelComparison

    Raises
    ------
    ModelError
        Fewer than 2 distinct models, different datasets or labels, a
        mix of schedules (or rolling schedules that differ), no common rows.
    ModelNotFoundError
        A reference names no version.
    """
    if len(refs) < 2:
        raise ModelError(
            f"compare needs at least 2 models, got {len(refs)}",
            hint="name two or more versions: alphaloop model compare A/v1 B/v1",
        )
    report = progress or no_progress
    candidates = [_candidate(ws, ref) for ref in refs]
    resolved = [c.version.ref for c in candidates]
    if len(set(resolved)) < len(resolved):
        raise ModelError(f"the same version is named twice: {resolved}")
    _check_compatible(candidates)
    first = candidates[0]
    dataset, dataset_version = first.version.dataset, first.version.dataset_version
    embargo = max(c.spec.training.embargo for c in candidates)

    params = {"refs": resolved, "n_splits": n_splits, "quantile": quantile, "cost_bps": cost_bps}
    with ws.runs.start("model-compare", params) as run:
        for i, c in enumerate(candidates):
            report("building features and labels", i, len(candidates))
            c.data = spec_learning_data(ws, c.spec, c.expressions)
            c.row_keys = _keys(c.data)
            c.usable = _usable_keys(c)
        common = candidates[0].usable
        for c in candidates[1:]:
            common = common.intersection(c.usable, sort=False)
        common = common.sort_values()
        if len(common) == 0:
            raise ModelError(
                f"the models share no labelled rows on {dataset!r}",
                hint="compare models trained over overlapping spans and universes",
            )
        predictions, tested = {}, {}
        for i, c in enumerate(candidates):
            report("re-running each model on the common splits", i, len(candidates))
            pred, tested[c.version.ref] = _rerun(c, common, n_splits, embargo, on_fit)
            predictions[c.version.ref] = pred
        report("re-running each model on the common splits", len(candidates), len(candidates))
        test_keys = _check_same_test_rows(tested)

        grid_dates, grid_assets, forward, panels = _aligned(candidates, predictions, test_keys)
        held = _period_returns(ws, first, grid_dates, grid_assets)
        registered = sum(1 for v in ws.models.list() if v.dataset == dataset)
        label = first.spec.label
        stats = compare_predictions(
            panels,
            forward,
            held,
            horizon=label.horizon,
            n_trials=max(registered, len(candidates)),
            quantile=quantile,
            cost_bps=cost_bps,
            index=grid_dates,
        )
        rolling = first.spec.training.schedule == "rolling"
        settings = {
            "splitter": "rolling" if rolling else "walk_forward",
            "n_splits": None if rolling else n_splits,
            "embargo": None if rolling else embargo,
            "schedule": _describe(first),
            "seeds": {c.version.ref: c.spec.seed for c in candidates},
            "label": {k: getattr(label, k) for k in _LABEL_KEYS},
            **stats.settings,
        }
        result = ModelComparison(
            refs=tuple(resolved),
            dataset=dataset,
            dataset_version=dataset_version,
            settings=settings,
            n_rows=len(common),
            n_test_rows=len(test_keys),
            first_test=grid_dates[0],
            last_test=grid_dates[-1],
            stats=stats,
            run_id=run.id,
            test_rows=tested,
        )
        run.result = result.to_dict()
        run.data_hashes = {dataset: first.version.dataset_hash}
    return result


def _candidate(ws: Workspace, ref: str) -> _Candidate:
    version, recipe = load_recipe(ws, ref)
    raw = recipe.get("spec")
    if not isinstance(raw, dict):
        raise ModelError(f"model {version.ref} has no spec in its recipe: it cannot be re-run")
    spec = ModelSpec.from_dict(raw, source=f"{version.ref} recipe")
    pinned = spec.model_copy(update={"version": version.dataset_version})
    return _Candidate(version.ref, version, pinned, dict(recipe["features"]))


def _schedule(c: _Candidate) -> tuple[Any, ...]:
    t = c.spec.training
    if t.schedule == "rolling":
        return ("rolling", t.retrain_every, t.rolling_window, t.min_train)
    return (t.schedule,)


def _check_compatible(candidates: list[_Candidate]) -> None:
    first = candidates[0]
    for c in candidates[1:]:
        if _schedule(c) != _schedule(first):
            raise ModelError(
                f"{c.ref} was trained with the schedule {_describe(c)} but {first.ref} with "
                f"{_describe(first)}: models are compared on one schedule only",
                hint="compare cv versions together, or rolling versions with the same "
                "retrain_every, window and min_train",
            )
        if c.version.dataset != first.version.dataset:
            raise ModelError(
                f"{c.ref} was trained on {c.version.dataset!r} but {first.ref} on "
                f"{first.version.dataset!r}: models are compared on the same dataset only",
                hint="compare versions trained on one dataset",
            )
        if c.version.dataset_version != first.version.dataset_version:
            raise ModelError(
                f"{c.ref} was trained on version {c.version.dataset_version} of "
                f"{c.version.dataset!r} but {first.ref} on version {first.version.dataset_version}",
                hint="retrain one of them on the same dataset version (ModelSpec version:)",
            )
        for key in _LABEL_KEYS:
            a, b = getattr(first.spec.label, key), getattr(c.spec.label, key)
            if a != b:
                raise ModelError(
                    f"{c.ref} predicts a label with {key}={b!r} but {first.ref} with {key}={a!r}; "
                    "models are compared on the same forward return only",
                    hint="compare versions with the same label horizon, entry lag and price",
                )


def _describe(c: _Candidate) -> str:
    t = c.spec.training
    if t.schedule != "rolling":
        return repr(t.schedule)
    window = "expanding" if t.rolling_window is None else t.rolling_window
    return f"'rolling' (retrain_every {t.retrain_every}, window {window}, min_train {t.min_train})"


def _usable_keys(c: _Candidate) -> pd.MultiIndex:
    """(date, asset) of the rows ``c`` can train on: labelled, with a window if needed."""
    data = c.data
    positions = np.flatnonzero(np.isfinite(data.y))
    if c.spec.model.family in SEQUENCE_FAMILIES:
        window = c.spec.training.sequence_window or 10
        _, positions = data.sequences(window, rows=positions)
    return c.row_keys[positions]


def _keys(data: LearningData) -> pd.MultiIndex:
    assets = np.asarray(data.assets, dtype=object)[data.cols]
    return pd.MultiIndex.from_arrays([data.times, assets], names=["date", "asset"])


def _rerun(
    c: _Candidate,
    common: pd.MultiIndex,
    n_splits: int,
    embargo: float,
    on_fit: Callable[[str, Any, pd.MultiIndex], None] | None,
) -> tuple[np.ndarray, pd.MultiIndex]:
    """Out-of-sample predictions of ``c`` trained on ``common`` rows only, and its test keys."""
    data, keys = c.data, c.row_keys
    pos = keys.get_indexer(common)
    y = np.full(len(data), np.nan)
    y[pos] = data.y[pos]
    masked = replace(data, y=y)
    rolling = c.spec.training.schedule == "rolling"
    training = c.spec.training
    if not rolling:  # a rolling schedule is shared already (_check_compatible)
        training = training.model_copy(
            update={"splitter": "walk_forward", "n_splits": n_splits, "embargo": embargo}
        )
    spec = c.spec.model_copy(update={"training": training})
    tested: list[np.ndarray] = []

    def hook(record: Any) -> None:
        if record.stage in ("cv", "rolling"):
            rows = np.asarray(record.eval_rows, dtype=np.int64)
            tested.append(rows[np.isfinite(y[rows])])  # a segment's unlabelled rows: not scored
        if on_fit is not None:
            on_fit(c.version.ref, record, keys[np.asarray(record.eval_rows, dtype=np.int64)])

    result = train_spec(masked, spec, on_fit=hook)
    rows = np.sort(np.concatenate(tested)) if tested else np.empty(0, dtype=np.int64)
    return np.asarray(result.oos_predictions, dtype=np.float64), keys[rows]


def _aligned(
    candidates: list[_Candidate], predictions: dict[str, np.ndarray], test_keys: pd.MultiIndex
) -> tuple[pd.DatetimeIndex, list[str], np.ndarray, dict[str, np.ndarray]]:
    """The test rows as a (date, asset) grid: dates, assets, forward returns, predictions."""
    dates = test_keys.get_level_values(0).unique().sort_values()
    assets = sorted(test_keys.get_level_values(1).unique())
    shape = (len(dates), len(assets))
    at = (
        dates.get_indexer(test_keys.get_level_values(0)),
        pd.Index(assets).get_indexer(test_keys.get_level_values(1)),
    )
    first = candidates[0]
    forward = np.full(shape, np.nan)
    forward[at] = first.data.forward_return[first.row_keys.get_indexer(test_keys)]
    panels = {}
    for c in candidates:
        grid = np.full(shape, np.nan)
        grid[at] = predictions[c.version.ref][c.row_keys.get_indexer(test_keys)]
        panels[c.version.ref] = grid
    return dates, assets, forward, panels


def _check_same_test_rows(tested: dict[str, pd.MultiIndex]) -> pd.MultiIndex:
    items = list(tested.items())
    ref0, keys0 = items[0]
    keys0 = keys0.sort_values()
    for ref, keys in items[1:]:
        if len(keys) != len(keys0) or not keys.sort_values().equals(keys0):
            raise ModelError(
                f"{ref} and {ref0} were tested on different rows ({len(keys)} vs {len(keys0)}); "
                "the comparison would not be fair",
                hint="this is a bug: please report it with the two specs",
            )
    if len(keys0) == 0:
        raise ModelError("no test rows: the common span is too short for the splits")
    return keys0


def _period_returns(
    ws: Workspace, c: _Candidate, dates: pd.DatetimeIndex, assets: list[str]
) -> np.ndarray:
    """Per (date, asset): the label price's return from bar ``t + entry_lag`` to the next bar."""
    label = c.spec.label
    panel = ws.data.load(c.version.dataset, version=c.version.dataset_version)
    price = np.asarray(panel.field(label.price), dtype=np.float64)
    lag = label.entry_lag
    held = np.full(price.shape, np.nan)
    n = price.shape[0] - lag - 1
    if n > 0:
        with np.errstate(all="ignore"):
            r = price[lag + 1 : lag + 1 + n] / price[lag : lag + n] - 1.0
        held[:n] = np.where(np.isfinite(r), r, np.nan)
    rows = panel.index.get_indexer(dates)
    cols = np.array([panel.asset_index(a) for a in assets])
    out = held[np.ix_(rows, cols)]
    out[rows < 0] = math.nan
    return out
