"""Model monitoring: recent IC against validation IC, feature drift, prediction shift.

Conventions
-----------
- Bins come from the *reference* (expected) sample: ``bins - 1`` interior
  edges at its quantiles ``k / bins`` (numpy's linear interpolation). A value
  equal to an edge falls in the lower bin, i.e. bins are ``(q[k-1], q[k]]``;
  the outer bins are open, so recent values outside the reference range count
  in the first or last bin. Ties in the reference can make bins empty.
- Empty bins: each sample's bin proportions are floored at
  :data:`EPSILON` (``1e-4``) and renormalized to sum to one, so logarithms stay
  finite; a bin empty in both samples contributes nothing.
- Non-finite values (NaN, ±inf) are dropped before binning; the share dropped
  is reported per feature. A feature without finite values on either side
  has PSI and KL NaN and raises no alert.
- ``PSI = Σ (a - e) ln(a / e)``, which equals ``KL(a‖e) + KL(e‖a)``. Rule of
  thumb: below 0.1 stable, 0.1–0.25 moderate, above 0.25 a significant shift.
- :func:`kl_divergence` is ``KL(actual ‖ expected) = Σ a ln(a / e)`` in nats:
  the information lost when the reference distribution describes the recent
  one. It is never negative.
- The prediction KS statistic is the two-sample Kolmogorov–Smirnov distance
  ``sup |F_reference - F_recent|`` of the raw predictions.
- IC: the callers compute the ICs (e.g. the mean of
  :func:`alphaloop.factors.analysis.ic.information_coefficient` over the
  recent window and over validation). The drop is ``1 - recent / validation``;
  an alert fires when it exceeds ``ic_drop`` (default 0.5: IC down by more than
  half). The check needs a positive validation IC; otherwise it is skipped and
  the report's ``notes`` say why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sqlalchemy import select

from alphaloop.models.errors import ModelError
from alphaloop.store import Database, ModelAlertRecord, ModelVersionRecord

__all__ = [
    "EPSILON",
    "Alert",
    "DriftReport",
    "FeatureDrift",
    "RecordedAlert",
    "drift_report",
    "kl_divergence",
    "ks_statistic",
    "list_alerts",
    "population_stability_index",
    "record_alerts",
]

EPSILON = 1e-4


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature: PSI, KL (nats) and the share of non-finite values."""

    name: str
    psi: float
    kl: float
    missing_reference: float
    missing_recent: float


@dataclass(frozen=True)
class Alert:
    """A degradation that passed its threshold.

    ``kind`` is ``"ic_drop"`` (value: the fractional IC drop), ``"feature_drift"``
    (value: the feature's PSI) or ``"prediction_drift"`` (value: the predictions' PSI).
    """

    kind: str
    metric: str
    value: float | None
    threshold: float
    message: str


@dataclass(frozen=True)
class RecordedAlert:
    """An alert as stored for a model version."""

    model_ref: str
    kind: str
    metric: str
    value: float | None
    threshold: float
    message: str
    created_at: datetime


@dataclass(frozen=True)
class DriftReport:
    """Recent behaviour of a model against its reference (validation) window."""

    features: tuple[FeatureDrift, ...]
    prediction_psi: float
    prediction_kl: float
    prediction_ks: float
    recent_ic: float | None
    validation_ic: float | None
    ic_ratio: float | None
    ic_drop: float
    psi_alert: float
    bins: int
    n_reference: int
    n_recent: int
    alerts: tuple[Alert, ...]
    notes: tuple[str, ...] = ()

    @property
    def degraded(self) -> bool:
        """True when at least one alert fired."""
        return bool(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN becomes None)."""
        return _finite_or_none(asdict(self)) | {"degraded": self.degraded}


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


# -- kernels ---------------------------------------------------------------------------


def _columns(values: ArrayLike, name: str) -> np.ndarray:
    """Float64 2-D array (n, k) with non-finite values as NaN."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ModelError(f"{name} must be 1-D or 2-D (rows, features), got shape {arr.shape}")
    return np.where(np.isfinite(arr), arr, np.nan)


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    """One sample as a single column (n, 1), non-finite values as NaN."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ModelError(f"{name} must be 1-D, got shape {arr.shape}")
    return _columns(arr, name)


def _bin_proportions(
    reference: np.ndarray, recent: np.ndarray, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-column bin proportions (k, bins) of both samples, floored and renormalized.

    Rows of a column without finite values are NaN.
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ModelError(f"bins must be an integer of at least 2, got {bins!r}")
    if reference.shape[1] != recent.shape[1]:
        raise ModelError(
            f"reference has {reference.shape[1]} columns and recent has {recent.shape[1]}"
        )
    quantiles = np.arange(1, bins) / bins
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN edges
        edges = np.nanquantile(reference, quantiles, axis=0)  # (bins - 1, k)
    return _proportions(reference, edges, bins), _proportions(recent, edges, bins)


def _proportions(sample: np.ndarray, edges: np.ndarray, bins: int) -> np.ndarray:
    n, k = sample.shape
    index = np.zeros((n, k), dtype=np.int32)
    for edge in edges:  # bins - 1 passes, each over the whole array
        index += sample > edge
    index[np.isnan(sample)] = bins  # an overflow bin, dropped below
    flat = index + np.arange(k, dtype=np.int32) * np.int32(bins + 1)
    counts = np.bincount(flat.ravel(), minlength=k * (bins + 1)).reshape(k, bins + 1)[:, :bins]
    total = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.maximum(counts / total, EPSILON)
        return share / share.sum(axis=1, keepdims=True)


def _psi_kl(reference: np.ndarray, recent: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    e, a = _bin_proportions(reference, recent, bins)
    log_ratio = np.log(a / e)
    return ((a - e) * log_ratio).sum(axis=1), (a * log_ratio).sum(axis=1)


def population_stability_index(expected: ArrayLike, actual: ArrayLike, bins: int = 10) -> float:
    """PSI of ``actual`` against ``expected`` over ``bins`` quantile bins of ``expected``.

    See the module notes for binning and the empty-bin floor. 0 for identical
    samples; above 0.25 conventionally means a significant shift.
    """
    psi, _ = _psi_kl(_vector(expected, "expected"), _vector(actual, "actual"), bins)
    return float(psi[0])


def kl_divergence(expected: ArrayLike, actual: ArrayLike, bins: int = 10) -> float:
    """``KL(actual ‖ expected)`` in nats over ``bins`` quantile bins of ``expected``."""
    _, kl = _psi_kl(_vector(expected, "expected"), _vector(actual, "actual"), bins)
    return float(kl[0])


def ks_statistic(reference: ArrayLike, recent: ArrayLike) -> float:
    """Two-sample Kolmogorov–Smirnov statistic ``sup |F_reference - F_recent|`` (NaN dropped)."""
    a = np.sort(np.asarray(reference, dtype=np.float64).ravel())
    b = np.sort(np.asarray(recent, dtype=np.float64).ravel())
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return math.nan
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))


# -- report ----------------------------------------------------------------------------


def drift_report(
    reference_X: ArrayLike,  # noqa: N803 (scikit-learn's name)
    recent_X: ArrayLike,  # noqa: N803
    feature_names: Sequence[str],
    reference_pred: ArrayLike,
    recent_pred: ArrayLike,
    recent_ic: float | None = None,
    validation_ic: float | None = None,
    *,
    ic_drop: float = 0.5,
    psi_alert: float = 0.25,
    bins: int = 10,
) -> DriftReport:
    """Compare a model's recent inputs, outputs and IC with its reference window.

    Parameters
    ----------
    reference_X, recent_X : array-like, shape (n, n_features)
        Features of the reference (validation) window and of the recent window.
    feature_names : sequence of str
        One name per column.
    reference_pred, recent_pred : array-like, shape (n,)
        The model's predictions on the two windows.
    recent_ic, validation_ic : float, optional
        Mean IC (unitless) on the recent window and on validation.
    ic_drop : float, default=0.5
        Alert when the IC fell by more than this fraction of the validation IC.
    psi_alert : float, default=0.25
        Alert when a feature's or the predictions' PSI exceeds this.
    bins : int, default=10
        Quantile bins of the reference sample.

    Returns
    -------
    DriftReport
    """
    ref = _columns(reference_X, "reference_X")
    rec = _columns(recent_X, "recent_X")
    names = [str(n) for n in feature_names]
    if ref.shape[1] != len(names) or rec.shape[1] != len(names):
        raise ModelError(
            f"{len(names)} feature names for reference_X with {ref.shape[1]} columns "
            f"and recent_X with {rec.shape[1]}"
        )
    psi, kl = _psi_kl(ref, rec, bins)
    missing_ref = np.isnan(ref).mean(axis=0) if len(ref) else np.ones(len(names))
    missing_rec = np.isnan(rec).mean(axis=0) if len(rec) else np.ones(len(names))
    features = tuple(
        FeatureDrift(n, float(p), float(k), float(mr), float(mc))
        for n, p, k, mr, mc in zip(names, psi, kl, missing_ref, missing_rec, strict=True)
    )
    pred_ref = _vector(reference_pred, "reference_pred")
    pred_rec = _vector(recent_pred, "recent_pred")
    pred_psi, pred_kl = (float(v[0]) for v in _psi_kl(pred_ref, pred_rec, bins))
    alerts: list[Alert] = []
    notes: list[str] = []
    ratio = _ic_check(recent_ic, validation_ic, ic_drop, alerts, notes)
    alerts.extend(
        Alert(
            "feature_drift",
            f.name,
            f.psi,
            psi_alert,
            f"feature {f.name!r} drifted: PSI {f.psi:.3f} > {psi_alert}",
        )
        for f in features
        if f.psi > psi_alert
    )
    if pred_psi > psi_alert:
        alerts.append(
            Alert(
                "prediction_drift",
                "prediction",
                pred_psi,
                psi_alert,
                f"prediction distribution shifted: PSI {pred_psi:.3f} > {psi_alert}",
            )
        )
    return DriftReport(
        features=features,
        prediction_psi=pred_psi,
        prediction_kl=pred_kl,
        prediction_ks=ks_statistic(pred_ref, pred_rec),
        recent_ic=recent_ic,
        validation_ic=validation_ic,
        ic_ratio=ratio,
        ic_drop=ic_drop,
        psi_alert=psi_alert,
        bins=bins,
        n_reference=len(ref),
        n_recent=len(rec),
        alerts=tuple(alerts),
        notes=tuple(notes),
    )


def _ic_check(
    recent_ic: float | None,
    validation_ic: float | None,
    ic_drop: float,
    alerts: list[Alert],
    notes: list[str],
) -> float | None:
    """Append an ``ic_drop`` alert or a note; return ``recent / validation`` or None."""
    if recent_ic is None or validation_ic is None:
        notes.append("IC check skipped: recent_ic and validation_ic are both needed")
        return None
    if not (math.isfinite(recent_ic) and math.isfinite(validation_ic)):
        notes.append(
            f"IC check skipped: IC not finite (recent {recent_ic}, validation {validation_ic})"
        )
        return None
    if validation_ic <= 0:
        notes.append(
            f"IC check skipped: validation IC {validation_ic:.4f} is not positive, "
            "so a drop is not defined"
        )
        return None
    ratio = recent_ic / validation_ic
    drop = 1.0 - ratio
    if drop > ic_drop:
        alerts.append(
            Alert(
                "ic_drop",
                "ic",
                drop,
                ic_drop,
                f"IC fell from {validation_ic:.4f} (validation) to {recent_ic:.4f} (recent), "
                f"down {drop:.0%}; the alert threshold is {ic_drop:.0%}",
            )
        )
    return ratio


# -- storage ---------------------------------------------------------------------------


def record_alerts(db: Database, model_ref: str, report: DriftReport) -> int:
    """Store the report's alerts for the registered version ``model_ref`` ("name/vN").

    Returns
    -------
    int
        Number of alerts written (0 when the model is healthy).
    """
    now = datetime.now(UTC)
    with db.session() as s:
        known = s.scalar(select(ModelVersionRecord.id).where(ModelVersionRecord.ref == model_ref))
        if known is None:
            raise ModelError(
                f"no registered model version {model_ref!r} to record alerts for",
                hint='pass a concrete reference "name/vN" (see ModelRegistry.get(ref).ref)',
            )
        s.add_all(
            ModelAlertRecord(
                model_ref=model_ref,
                kind=a.kind,
                metric=a.metric,
                value=a.value if a.value is not None and math.isfinite(a.value) else None,
                threshold=a.threshold,
                message=a.message,
                created_at=now,
            )
            for a in report.alerts
        )
    return len(report.alerts)


def list_alerts(db: Database, model_ref: str | None = None) -> list[RecordedAlert]:
    """Stored alerts, oldest first; only those of ``model_ref`` if given."""
    q = select(ModelAlertRecord).order_by(ModelAlertRecord.id)
    if model_ref is not None:
        q = q.where(ModelAlertRecord.model_ref == model_ref)
    with db.session() as s:
        return [
            RecordedAlert(
                r.model_ref,
                r.kind,
                r.metric,
                r.value,
                r.threshold,
                r.message,
                r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
            )
            for r in s.scalars(q).all()
        ]
