"""Datasets: list, show, quality, import (upload)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile

from alphaloop.api.deps import Researcher, audit_note, context, require
from alphaloop.api.routes._common import to_json
from alphaloop.errors import UsageError

router = APIRouter(tags=["datasets"])

DatasetName = Annotated[str, Path(min_length=1, max_length=200, description="Dataset name.")]
Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="Version; default latest.")]
LIST_TTL_S = 2.0
"""Seconds the dataset list is reused (building it reads every dataset's metadata)."""
_SUFFIXES = frozenset({".csv", ".parquet", ".pq", ".json", ".txt", ".tsv"})


@router.get("/datasets", name="datasets.list", dependencies=[require("read")])
def datasets_list(request: Request) -> dict[str, Any]:
    """Every dataset (bundled and imported): name, assets, fields, span, frequency.
    (Built at most every few seconds: an import made elsewhere shows within
    :data:`LIST_TTL_S` seconds; one made through this service at once.)"""
    ctx = context(request)

    def build() -> Any:
        return to_json({"datasets": [i.to_dict() for i in ctx.ws.data.list()]})

    return ctx.cached("datasets", LIST_TTL_S, build)  # type: ignore[no-any-return]


@router.get("/holdouts", name="holdouts.list", dependencies=[require("read")])
def holdouts_list(request: Request) -> dict[str, Any]:
    """Sealed holdouts: which dataset, where the seal starts, when it was fixed, and whether
    (and how often) it was evaluated."""
    holdouts = context(request).ws.data.holdouts.list()
    return to_json({"holdouts": [h.to_dict() for h in holdouts]})  # type: ignore[no-any-return]


@router.get("/datasets/{name}", name="datasets.show", dependencies=[require("read")])
def datasets_show(
    name: DatasetName,
    request: Request,
    version: Version = None,
    preview_rows: Annotated[int, Query(ge=0, le=50)] = 5,
) -> dict[str, Any]:
    """One dataset: fields, assets, span, caveats, content hash, where its sealed holdout
    starts, and its last rows before the holdout."""
    ws = context(request).ws
    info = ws.data.info(name, version)
    doc = info.to_dict(full=True)
    boundary = ws.data.holdout_boundary(name, version)
    doc["holdout_start"] = None if boundary is None else boundary.isoformat()
    doc["preview"] = []
    if preview_rows:
        frame = ws.data.preview(name, preview_rows, version)
        doc["preview"] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return to_json(doc)  # type: ignore[no-any-return]


@router.get("/datasets/{name}/quality", name="datasets.quality", dependencies=[require("read")])
def datasets_quality(
    name: DatasetName, request: Request, version: Version = None
) -> dict[str, Any]:
    """The dataset's quality report (errors, warnings, repairs) as stored at import."""
    report = context(request).ws.data.quality_report(name, version)
    return to_json(report.to_dict())  # type: ignore[no-any-return]


@router.post("/datasets", name="datasets.import", status_code=201)
def datasets_import(
    request: Request,
    _: Researcher,
    file: Annotated[UploadFile, File(description="CSV, Parquet or JSON file.")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    layout: Annotated[Literal["auto", "long", "wide"], Form()] = "auto",
    field: Annotated[str, Form(min_length=1, max_length=100)] = "close",
    description: Annotated[str, Form(max_length=2000)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> dict[str, Any]:
    """Import an uploaded file as a new dataset version (checked first; refused with the
    quality report when it has errors)."""
    suffix = FsPath(file.filename or "").suffix.lower()
    if suffix not in _SUFFIXES:
        raise UsageError(
            f"cannot import {file.filename!r}: unknown file type {suffix or '(none)'}",
            hint=f"send one of {sorted(_SUFFIXES)}",
        )
    ws = context(request).ws
    with tempfile.TemporaryDirectory() as tmp:
        path = FsPath(tmp) / f"upload{suffix}"
        with path.open("wb") as out:
            while chunk := file.file.read(1 << 20):
                out.write(chunk)
        result = ws.data.import_file(
            path, name, layout=layout, field_name=field, description=description
        )
    context(request).forget("datasets")
    audit_note(request, f"dataset:{name}", reason, {"file": file.filename})
    return to_json(result.to_dict())  # type: ignore[no-any-return]
