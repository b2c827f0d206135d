"""``alphaloop docs``: import, list and summary end to end, errors as exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli, cli_on_read_only

NEWS = (
    "asset,published_at,text,source\n"
    "AAPL,2024-01-02T14:30:00Z,Apple beats estimates,wire\n"
    'MSFT,2024-01-02T15:00:00Z,"Microsoft, cloud up\nsecond paragraph",wire\n'
    "AAPL,2024-01-03T14:30:00Z,Apple guidance cut,\n"
    "AAPL,2024-01-03T14:30:00Z,Apple guidance cut,\n"
)


@pytest.fixture
def news(tmp_path: Path) -> Path:
    path = tmp_path / "news.csv"
    path.write_text(NEWS)
    return path


def test_import_list_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, news: Path
) -> None:
    ws = tmp_path / "ws"
    code, out, _ = cli(capsys, ws, "docs", "import", str(news), "--kind", "news", "--json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["rows"], doc["imported"], doc["duplicates"]) == (4, 3, 1)
    assert doc["first"] == "2024-01-02T14:30:00+00:00"
    # again: nothing new, said in words (the kind is part of a document's identity)
    code, out, _ = cli(capsys, ws, "docs", "import", str(news), "--kind", "news")
    assert code == 0
    assert "imported 0 new document(s) of 4 row(s)" in out
    assert "3 already stored" in out

    code, out, _ = cli(capsys, ws, "docs", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [d["asset"] for d in listed] == ["AAPL", "MSFT", "AAPL"]  # newest first
    assert listed[1]["text"] == "Microsoft, cloud up\nsecond paragraph"
    assert {d["kind"] for d in listed} == {"news"}
    assert [d["source"] for d in listed] == ["", "wire", "wire"]
    code, out, _ = cli(capsys, ws, "docs", "list", "--asset", "MSFT", "--limit", "5", "--json")
    assert [d["asset"] for d in json.loads(out)] == ["MSFT"]
    code, out, _ = cli(capsys, ws, "docs", "list", "--limit", "1")
    assert code == 0
    assert "Apple guidance cut" in out
    assert "Apple beats" not in out

    code, out, _ = cli(capsys, ws, "docs", "summary", "--json")
    assert code == 0
    summary = json.loads(out)
    assert (summary["documents"], summary["assets"]) == (3, 2)
    assert summary["per_asset"]["AAPL"]["documents"] == 2
    code, out, _ = cli(capsys, ws, "docs", "summary")
    assert code == 0
    assert "3 document(s) on 2 asset(s), published 2024-01-02 .. 2024-01-03" in out


def test_assets_checked_against_a_dataset(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    path = tmp_path / "news.csv"
    path.write_text(NEWS + "NOPE,2024-01-04T00:00:00Z,Unknown company,wire\n")
    code, out, err = cli(
        capsys, ws, "docs", "import", str(path), "--dataset", "sp500-stocks", "--json"
    )
    assert code == 2
    error = json.loads(out)["error"]
    assert error["type"] == "DocumentError"
    assert "not in dataset 'sp500-stocks': NOPE" in error["message"]
    assert "line 7" in error["message"]  # the quoted text of row 2 spans two lines
    assert "Traceback" not in err
    code, out, _ = cli(capsys, ws, "docs", "summary", "--json")
    assert json.loads(out)["documents"] == 0  # nothing stored

    code, out, _ = cli(
        capsys, ws, "docs", "import", str(path), "--dataset", "sp500-stocks", "--skip-unknown"
    )
    assert code == 0
    assert "skipped 1 row(s) of 1 asset(s) not in sp500-stocks: NOPE" in out

    code, out, _ = cli(capsys, ws, "docs", "import", str(path), "--dataset", "no-such", "--json")
    assert code == 2
    assert json.loads(out)["error"]["type"] == "DatasetNotFoundError"


def test_input_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    path = tmp_path / "naive.csv"
    path.write_text("asset,time,text\nAAPL,2024-01-02 09:30,Opening bell\n")
    code, out, err = cli(capsys, ws, "docs", "import", str(path))
    assert code == 2
    assert out == ""
    assert err.splitlines()[1].startswith("error: ")  # after "created workspace ..."
    assert "without a UTC offset in 1 row(s): line 2 '2024-01-02 09:30'" in " ".join(err.split())
    assert "Traceback" not in err
    code, out, _ = cli(
        capsys, ws, "docs", "import", str(path), "--timezone", "America/New_York", "--json"
    )
    assert code == 0
    assert json.loads(out)["first"] == "2024-01-02T14:30:00+00:00"

    code, out, _ = cli(capsys, ws, "docs", "import", str(path), "--skip-unknown", "--json")
    assert code == 2
    assert "--skip-unknown needs --dataset" in json.loads(out)["error"]["message"]
    code, out, _ = cli(capsys, ws, "docs", "import", str(tmp_path / "missing.csv"), "--json")
    assert code == 2
    assert "no such file" in json.loads(out)["error"]["message"]


def test_reading_commands_never_create_a_workspace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for args in (("docs", "list"), ("docs", "summary")):
        code, out, err = cli(capsys, tmp_path / "typo", *args)
        assert code == 3
        assert "no workspace at" in " ".join(err.split())
    assert not (tmp_path / "typo").exists()
    ws = tmp_path / "ws"
    ws.mkdir()
    code, out, _ = cli(capsys, ws, "docs", "summary")
    assert code == 0
    assert "no documents" in out
    code, out, _ = cli(capsys, ws, "docs", "list", "--json")
    assert json.loads(out) == []


def test_reading_a_read_only_workspace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, news: Path
) -> None:
    ws = tmp_path / "ws"
    assert cli(capsys, ws, "docs", "import", str(news))[0] == 0
    summary = cli_on_read_only(ws, "docs", "summary", "--json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["documents"] == 3
    refused = cli_on_read_only(ws, "docs", "import", str(news), "--json")
    assert refused.returncode == 3
    assert json.loads(refused.stdout)["error"]["type"] == "ReadOnlyWorkspaceError"
