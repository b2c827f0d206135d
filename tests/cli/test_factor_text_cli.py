"""``alphaloop factor text``: add, list, show, eval and remove, on a small corpus of its own."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.store import DocumentRow
from tests.cli.conftest import cli

DAYS = pd.bdate_range("2024-03-01", periods=20, tz="UTC")


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    rows = [
        (f"{t:%Y-%m-%d}", a, c, c, c, c, 100)
        for a in ("AAA", "BBB", "CCC")
        for t, c in zip(DAYS, 50 * np.cumprod(1 + 0.01 * rng.standard_normal(20)), strict=True)
    ]
    prices = tmp_path / "prices.csv"
    pd.DataFrame(
        rows, columns=["timestamp", "symbol", "open", "high", "low", "close", "volume"]
    ).to_csv(prices, index=False)
    with Workspace(tmp_path / "ws") as ws:
        ws.data.import_file(prices, "small")
        with ws.db.write_session() as s:
            for i, (asset, text) in enumerate(
                [("AAA", "AAA lifts its outlook"), ("BBB", "BBB warns on profit")] * 3
            ):
                when = DAYS[2 + 3 * i] + pd.Timedelta("14h")
                s.add(
                    DocumentRow(
                        doc_id=hashlib.sha256(f"{i}".encode()).hexdigest(),
                        asset=asset,
                        published_at=when.to_pydatetime(),
                        source="wire",
                        kind="news",
                        text=text,
                        import_file="test",
                    )
                )
    return tmp_path / "ws"


def test_text_factor_commands(
    ws_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "outlook.yaml"
    spec.write_text("name: outlook\nkind: similarity\nreferences: [raises guidance]\n")
    code, out, _ = cli(capsys, ws_path, "factor", "text", "add", str(spec))
    assert code == 0
    assert "added text factor outlook" in out
    code, _, err = cli(capsys, ws_path, "factor", "text", "add", str(spec))
    assert code == 2
    assert "exists" in err
    code, out, _ = cli(capsys, ws_path, "factor", "text", "list", "--json")
    assert [d["name"] for d in json.loads(out)] == ["outlook"]
    code, out, _ = cli(capsys, ws_path, "factor", "text", "show", "outlook")
    assert code == 0
    assert "similarity to raises guidance" in out
    code, out, _ = cli(capsys, ws_path, "factor", "text", "eval", "outlook", "--data", "small",
                       "--json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["assets_with_values"] == 2
    assert doc["valid"] > 0
    # the first document (AAA, day 3 at 14:00) counts from day 4's bar on
    assert doc["first_value"][:10] == f"{DAYS[3]:%Y-%m-%d}"
    code, out, _ = cli(capsys, ws_path, "factor", "text", "eval", "outlook", "--data", "small")
    assert code == 0
    assert "2 of 3 assets" in " ".join(out.split())  # the line may wrap at the width
    code, out, _ = cli(capsys, ws_path, "factor", "text", "remove", "outlook")
    assert code == 0
    code, _, err = cli(capsys, ws_path, "factor", "text", "show", "outlook")
    assert code == 2
    assert "no text factor 'outlook'" in err


def test_show_prints_a_pca_factors_refit_schedule(
    ws_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "pc.yaml"
    spec.write_text("name: pc\nkind: pca\ncomponent: 0\nrefit: 10D\nmin_documents: 5\n")
    code, _, err = cli(capsys, ws_path, "factor", "text", "add", str(spec))
    assert code == 0, err
    code, out, _ = cli(capsys, ws_path, "factor", "text", "show", "pc")
    assert code == 0
    lines = {" ".join(line.split()[:2]) for line in out.splitlines()}
    assert "refit 10D" in lines
    assert "min_documents 5" in lines
    assert "component 0" in lines
