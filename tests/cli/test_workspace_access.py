"""Reading commands never create a workspace and work on a read-only one; writing
commands create one (and say so) and refuse a read-only one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.errors import ReadOnlyWorkspaceError, WorkspaceNotFoundError
from tests.cli.conftest import cli, cli_on_read_only, cli_process

READERS = [
    ("data", "list"),
    ("data", "show", "vix"),
    ("runs", "list"),
    ("runs", "show", "1"),
    ("model", "list"),
    ("model", "show", "tiny/v1"),
    ("factor", "library", "list"),
    ("holdout", "list"),
    ("holdout", "show", "vix"),
]


@pytest.mark.parametrize("args", READERS, ids=["-".join(a) for a in READERS])
def test_reading_commands_refuse_a_missing_workspace(
    args: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "reserch"
    code, out, err = cli(capsys, typo, *args)
    assert code == 3
    assert out == ""
    assert f"no workspace at {typo}" in " ".join(err.split())
    assert "init" in err  # how to create one
    assert not typo.exists()


def test_writing_commands_create_the_workspace_and_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "new"
    code, out, err = cli(capsys, ws, "init", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["created"] is True
    assert doc["workspace"] == str(ws.resolve())
    assert "sp500-stocks" in doc["registered"]
    assert err.strip() == f"created workspace {ws.resolve()}"
    # the second time it exists: nothing said, nothing registered
    code, out, err = cli(capsys, ws, "init", "--json")
    assert json.loads(out)["created"] is False
    assert json.loads(out)["registered"] == []
    assert err == ""
    # any writing command creates a missing workspace, once
    other = tmp_path / "other"
    library = tmp_path / "lib.yaml"
    library.write_text("name: mine\nfactors:\n  MOM: Ref($close, 1) / Ref($close, 21) - 1\n")
    code, _, err = cli(capsys, other, "factor", "library", "add", str(library))
    assert code == 0
    assert err.count("created workspace") == 1
    assert cli(capsys, other, "factor", "library", "show", "mine")[0] == 0


def test_workspace_api_is_explicit(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(WorkspaceNotFoundError, match="no workspace at"):
        Workspace(missing, create=False)
    with pytest.raises(WorkspaceNotFoundError):
        Workspace(missing, read_only=True)  # a read-only workspace is never created
    assert not missing.exists()
    ws = Workspace(missing)
    assert ws.created is True
    assert ws.read_only is False
    assert Workspace(missing, create=False).created is False


def test_read_only_workspace_reads_and_refuses_writes(research_ws: Path) -> None:
    db = research_ws / "alphaloop.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    ws = Workspace(research_ws, create=False, read_only=True)
    assert ws.read_only is True
    assert "sp500-stocks" in {d.name for d in ws.data.list()}
    assert ws.runs.list()[-1]["kind"] == "model-train"
    with pytest.raises(ReadOnlyWorkspaceError, match="open read-only"), ws.runs.start("x"):
        pass
    ws.close()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_read_only_workspace_skips_registering_bundled_data(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace(root).runs.list()  # a database, but no dataset registered yet
    ws = Workspace(root, create=False, read_only=True)
    assert ws.data.list() == []
    assert "sp500-stocks" in ws.data.unregistered_bundled


def test_cli_on_a_read_only_workspace(research_ws: Path) -> None:
    proc = cli_on_read_only(research_ws, "data", "list", env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert "sp500-stocks" in proc.stdout
    assert proc.stderr.count("read-only") == 1  # said once
    for args in (("runs", "list", "--json"), ("model", "list", "--json"), ("holdout", "list")):
        proc = cli_on_read_only(research_ws, *args)
        assert proc.returncode == 0, proc.stderr
    assert json.loads(cli_on_read_only(research_ws, "runs", "list", "--json").stdout)
    # writing commands fail clearly, as a workspace problem
    library = research_ws.parent / "lib.yaml"
    library.write_text("name: mine2\nfactors:\n  MOM: Ref($close, 1) / Ref($close, 21) - 1\n")
    proc = cli_on_read_only(research_ws, "factor", "library", "add", str(library), "--json")
    assert proc.returncode == 3
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "ReadOnlyWorkspaceError"
    assert "read-only" in error["message"]
    # a reading command that would have to seal a holdout says what it needed to record
    proc = cli_on_read_only(research_ws, "factor", "eval", "$close", "--data", "wti",
                            "--out", str(research_ws.parent / "w.parquet"))  # fmt: skip
    assert proc.returncode == 3
    assert "seal of a dataset's holdout" in " ".join(proc.stderr.split())


def test_check_of_a_file_needs_no_workspace(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("timestamp,symbol,close\n2024-01-02,AAA,10\n2024-01-03,AAA,10.5\n")
    proc = cli_process("--workspace", str(tmp_path / "none"), "data", "check", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "clean" in proc.stdout
    assert not (tmp_path / "none").exists()


def test_read_only_on_each_database(tmp_path: Path, db_settings: dict[str, str]) -> None:
    writer = Workspace(tmp_path / "ws", **db_settings)
    with writer.runs.start("kept") as run:
        run.result = {"x": 1}
    writer.close()
    reader = Workspace(tmp_path / "ws", create=False, read_only=True, **db_settings)
    assert [r["kind"] for r in reader.runs.list()] == ["kept"]
    with pytest.raises(ReadOnlyWorkspaceError), reader.runs.start("refused"):
        pass
    reader.close()
    again = Workspace(tmp_path / "ws", **db_settings)
    assert [r["kind"] for r in again.runs.list()] == ["kept"]
    again.close()


def test_the_default_workspace_is_created_on_first_use_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphaloop.cli import main

    home = tmp_path / "home"
    monkeypatch.setenv("ALPHALOOP_HOME", str(home))
    code = main(["data", "list", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert home.is_dir()
    assert f"created workspace {home.resolve()}" in captured.err
    assert any(d["name"] == "sp500-stocks" for d in json.loads(captured.out))
    code = main(["data", "list", "--json"])
    assert code == 0
    assert "created workspace" not in capsys.readouterr().err
