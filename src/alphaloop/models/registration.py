"""Registering a version: checking its metadata and inserting its row with its artifact.

:func:`version_fields` validates what
:meth:`~alphaloop.models.registry.ModelRegistry.register` is given and turns it
into the columns of ``model_versions``; :func:`insert_version` numbers the
version and moves its artifact into place in one transaction. Writers of
one name take turns: PostgreSQL holds a transaction-scoped advisory lock
keyed by the schema and the name, SQLite the database's write lock
(``BEGIN IMMEDIATE``), so the ``max + 1`` read is never stale; the unique
constraint (name, version) stays as a second guard, and a clash with a
writer that does not take the lock is retried with a fresh number.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from alphaloop import __version__
from alphaloop.errors import StoreError
from alphaloop.models.errors import RegistryError
from alphaloop.models.registry_records import _change, check_name
from alphaloop.store import Database, ModelVersionRecord

if TYPE_CHECKING:
    from alphaloop.models.artifacts import SavableEstimator
    from alphaloop.models.labels import LabelSpec

__all__ = ["insert_version", "version_fields"]

_INSERT_ATTEMPTS = 20
#: key of the PostgreSQL advisory lock held while a version number is allocated
_VERSION_LOCK = 0x6D766572  # "mver"
_LIMITS = {  # column widths of the string fields
    "family": 100,
    "task": 40,
    "feature_family": 200,
    "target": 200,
    "dataset": 200,
    "dataset_hash": 64,
    "code_version": 100,
}
_V = ModelVersionRecord


def version_fields(
    name: str,
    estimator: SavableEstimator | str | Path,
    *,
    features: Sequence[str],
    label: Mapping[str, Any] | LabelSpec,
    dataset: str,
    dataset_hash: str,
    train_start: datetime | str,
    train_end: datetime | str,
    seed: int | None,
    dataset_version: int | None,
    label_end: datetime | str | None,
    metrics: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    family: str | None,
    task: str | None,
    feature_family: str,
    code_version: str | None,
    supersedes: str | None,
    note: str,
    resolve: Callable[[str], str],
) -> dict[str, Any]:
    """The ``model_versions`` columns of a new version (all but its number, ref and artifact).

    Arguments as for :meth:`~alphaloop.models.registry.ModelRegistry.register`;
    ``resolve(ref)`` returns the concrete ``"name/vN"`` of ``supersedes``.

    Raises
    ------
    RegistryError
        For an invalid name, label, feature list, period, metric or field length.
    """
    check_name(name)
    family = family or getattr(estimator, "family", None)
    if not family:
        raise RegistryError(
            f"cannot tell the estimator family of {name!r}",
            hint="pass family=... or register an estimator with a 'family' attribute",
        )
    if dataclasses.is_dataclass(label) and not isinstance(label, type):
        # a LabelSpec: a forward return of its ``price``
        label = {"target": "forward_return", **dataclasses.asdict(label)}
    label_dict = _json_ready("label", label)
    target = label_dict.get("target")
    if not isinstance(target, str) or not target:
        raise RegistryError(
            f"label of {name!r} has no 'target' name: {label_dict!r}",
            hint='pass label={"target": "forward_return", "horizon": 5, ...}',
        )
    feature_list = [str(f) for f in features]
    if not feature_list:
        raise RegistryError(f"model {name!r} has no features")
    if params is None and hasattr(estimator, "get_params"):
        params = estimator.get_params(deep=False)  # type: ignore[union-attr]
    start = _timestamp("train_start", train_start)
    end = _timestamp("train_end", train_end)
    if start is None or end is None or start > end:
        raise RegistryError(
            f"training period of {name!r} is invalid: {train_start!r} to {train_end!r}"
        )
    if supersedes is not None:
        supersedes = resolve(supersedes)
    fields: dict[str, Any] = {
        "name": name,
        "family": str(family),
        "task": str(task or getattr(estimator, "task", None) or "regression"),
        "features": feature_list,
        "feature_family": feature_family,
        "target": target,
        "label": label_dict,
        "params": _json_ready("params", params or {}),
        "train_start": start,
        "train_end": end,
        "label_end": _timestamp("label_end", label_end),
        "dataset": dataset,
        "dataset_version": dataset_version,
        "dataset_hash": dataset_hash,
        "code_version": code_version or __version__,
        "seed": None if seed is None else int(seed),
        "metrics": _metrics(metrics or {}),
        "stage": "candidate",
        "supersedes": supersedes,
        "note": note,
    }
    _check_lengths(fields)
    return fields


def insert_version(
    db: Database,
    fields: dict[str, Any],
    artifact: Path,
    version_dir: Callable[[str, int], Path],
) -> ModelVersionRecord:
    """Insert the next version's row and move the artifact in, in one transaction.

    The version number is ``max + 1`` read inside the transaction, after
    taking the name's lock (see the module's docstring); the unique
    constraint (name, version) rejects a writer that read a stale maximum
    anyway, which then retries with a fresh number. ``version_dir(name, n)``
    is where the artifact of ``name/v<n>`` goes.
    """
    name = fields["name"]
    for attempt in range(_INSERT_ATTEMPTS):
        moved: Path | None = None
        try:
            with db.write_session() as s:
                conn = s.connection()
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text(
                            "SELECT pg_advisory_xact_lock(:k, "
                            "hashtext(current_schema() || '/' || :name))"
                        ),
                        {"k": _VERSION_LOCK, "name": name},
                    )
                top = s.scalar(select(func.max(_V.version)).where(_V.name == name))
                version = (top or 0) + 1
                ref = f"{name}/v{version}"
                target = version_dir(name, version)
                rec = ModelVersionRecord(
                    **fields, version=version, ref=ref, artifact_path=str(target)
                )
                s.add(rec)
                s.flush()
                s.add(_change(ref, None, "candidate", "registered"))
                s.flush()
                if target.exists():
                    raise RegistryError(
                        f"artifact directory {target} already exists; "
                        f"refusing to overwrite it with {ref}",
                        hint="it has no registry row (left by an interrupted "
                        "registration?); inspect it and remove it to register "
                        f"{name!r} again",
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(artifact, target)  # atomic within one file system
                moved = target
            moved = None  # committed: the artifact now belongs to the row
            target.chmod(0o555)
            return rec
        except (IntegrityError, OperationalError) as exc:
            if moved is not None:
                os.rename(moved, artifact)
            if attempt == _INSERT_ATTEMPTS - 1 or not _is_conflict(exc):
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                raise StoreError(f"cannot record model {name!r}: {reason}") from exc
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        except BaseException:
            if moved is not None:
                os.rename(moved, artifact)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _json_ready(what: str, value: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(dict(value), allow_nan=False, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"{what} cannot be stored as JSON: {exc}",
            hint="use numbers, strings, booleans, lists and dictionaries (no NaN)",
        ) from exc


def _json_default(value: object) -> object:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()  # type: ignore[attr-defined]
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON")


def _metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        try:
            number = float(value) if value is not None else math.nan
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"metric {key!r} is not a number: {value!r}") from exc
        out[str(key)] = number if math.isfinite(number) else None
    return out


def _timestamp(what: str, value: datetime | str | pd.Timestamp | None) -> datetime | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{what} is not a date or time: {value!r}") from exc
    if pd.isna(ts):
        raise RegistryError(f"{what} is missing (NaT)")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _is_conflict(exc: IntegrityError | OperationalError) -> bool:
    """A clash with a concurrent writer: worth retrying with a fresh version number."""
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc.orig).lower()
    return any(word in text for word in ("locked", "busy", "deadlock"))


def _check_lengths(fields: Mapping[str, Any]) -> None:
    for key, limit in _LIMITS.items():
        value = fields[key]
        if not isinstance(value, str) or not value or len(value) > limit:
            raise RegistryError(
                f"{key} must be a non-empty string of at most {limit} characters, got {value!r}"
            )
