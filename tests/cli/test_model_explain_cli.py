"""``alphaloop model explain`` on a small trained model: compute, store, reuse, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli


def test_explain_computes_stores_and_reuses(
    research_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "tiny.html"
    code, out, err = cli(capsys, research_ws, "model", "explain", "tiny/v1", "--report",
                         str(html), "--repeats", "2", "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["ref"] == "tiny/v1"
    assert doc["computed"] is True
    perm = doc["explanations"]["permutation"]["payload"]
    assert perm["in_sample"] is False
    assert perm["reproduced"] is True
    assert perm["n_repeats"] == 2
    assert len(perm["folds"]) == 3
    assert {f["feature"] for f in perm["features"]} == {"mom20", "rev5"}
    assert {f["family"] for f in perm["families"]} == {"mom", "rev"}
    shap = doc["explanations"]["shap"]["payload"]
    assert shap["method"] == "permutation"
    assert shap["in_sample"] is True
    assert "tft" not in doc["explanations"]
    page = html.read_text()
    assert "Permutation importance" in page
    assert "mom20" in page
    assert "<table>" in page

    markdown = tmp_path / "tiny.md"
    code, out, _ = cli(capsys, research_ws, "model", "explain", "tiny/v1", "--report",
                       str(markdown), "--json")  # fmt: skip
    again = json.loads(out)
    assert code == 0
    assert again["computed"] is False
    assert {k: v["id"] for k, v in again["explanations"].items()} == {
        k: v["id"] for k, v in doc["explanations"].items()
    }
    text = markdown.read_text()
    assert text.startswith("# What tiny/v1 (ridge) uses")
    assert "| family | importance (IC fall) |" in text

    code, out, _ = cli(capsys, research_ws, "model", "explain", "tiny/v1", "--recompute",
                       "--repeats", "2")  # fmt: skip
    assert code == 0
    assert "explanations computed and stored" in out
    assert "Permutation importance:" in out
    assert "SHAP:" in out
    code, out, _ = cli(capsys, research_ws, "model", "explain", "tiny/v1", "--json")
    newest = json.loads(out)["explanations"]["permutation"]["id"]
    assert newest > doc["explanations"]["permutation"]["id"]


def test_explain_an_unknown_version_fails_without_a_traceback(
    research_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, research_ws, "model", "explain", "tiny/v99")
    assert code != 0
    assert "tiny/v99" in err
    assert "Traceback" not in err
