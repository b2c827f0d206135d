"""Datasets through the service: list, show (holdout start), quality, import by upload."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from alphaloop.app.governance import governance
from tests.api.conftest import Service


def _csv() -> bytes:
    rng = np.random.default_rng(3)
    index = pd.bdate_range("2024-01-02", periods=80)
    rows = []
    for symbol, base in (("AAA", 50.0), ("BBB", 120.0)):
        close = base * np.cumprod(1 + 0.01 * rng.standard_normal(len(index)))
        rows += [[f"{t:%Y-%m-%d}", symbol, round(c, 4)] for t, c in zip(index, close, strict=True)]
    frame = pd.DataFrame(rows, columns=["timestamp", "symbol", "close"])
    return frame.to_csv(index=False).encode()


def test_list_show_and_quality(service: Service) -> None:
    h = service.headers("viewer")
    names = [
        d["name"] for d in service.client.get("/api/v1/datasets", headers=h).json()["datasets"]
    ]
    assert "sp500-stocks" in names
    doc = service.client.get(
        "/api/v1/datasets/sp500-stocks", params={"preview_rows": 2}, headers=h
    ).json()
    assert len(doc["preview"]) <= 2
    assert "holdout_start" in doc
    assert any("survivorship" in c for c in doc["caveats"])
    quality = service.client.get("/api/v1/datasets/sp500-stocks/quality", headers=h)
    assert quality.status_code == 200


def test_an_upload_is_imported_listed_at_once_and_audited(service: Service) -> None:
    h = service.headers("researcher")
    service.client.get("/api/v1/datasets", headers=h)  # the list is built (and reused)
    r = service.client.post(
        "/api/v1/datasets",
        files={"file": ("mine.csv", io.BytesIO(_csv()), "text/csv")},
        data={"name": "uploaded-prices", "layout": "long", "reason": "client file"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    names = [
        d["name"] for d in service.client.get("/api/v1/datasets", headers=h).json()["datasets"]
    ]
    assert "uploaded-prices" in names
    entry = governance(service.ws).audit.entries(action="api.datasets.import")[-1]
    assert (entry.actor, entry.subject) == ("researcher", "dataset:uploaded-prices")
    bad = service.client.post(
        "/api/v1/datasets",
        files={"file": ("run.exe", io.BytesIO(b"MZ"), "application/octet-stream")},
        data={"name": "nope"},
        headers=h,
    )
    assert bad.status_code == 422
    assert "unknown file type" in bad.json()["error"]["message"]
    viewer = service.client.post(
        "/api/v1/datasets",
        files={"file": ("mine.csv", io.BytesIO(_csv()), "text/csv")},
        data={"name": "viewer-prices"},
        headers=service.headers("viewer"),
    )
    assert viewer.status_code == 403
