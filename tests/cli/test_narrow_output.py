"""Tables fit the width COLUMNS gives (piped or not) and never cut a cell short."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from alphaloop.cli.common import Col, print_table
from tests.cli.conftest import cli, cli_process

TABLES = [
    ("data", "list"),
    ("runs", "list"),
    ("model", "list"),
    ("factor", "library", "list"),
    ("holdout", "list"),
    ("factor", "operators"),
]


def _assert_fits(text: str, width: int) -> None:
    assert text.strip(), "no output"
    for line in text.splitlines():
        assert len(line.rstrip()) <= width, f"{len(line.rstrip())} > {width}: {line!r}"
    assert "…" not in text  # no cell cut short with an ellipsis


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize("args", TABLES, ids=["-".join(a) for a in TABLES])
def test_tables_fit_columns(
    args: tuple[str, ...],
    width: int,
    research_ws: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = cli(capsys, research_ws, *args)
    assert code == 0, err
    _assert_fits(out, width)


def test_no_value_is_lost_at_80_columns(
    research_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    _, listed, _ = cli(capsys, research_ws, "data", "list", "--json")
    _, table, _ = cli(capsys, research_ws, "data", "list")
    words = set(table.split())
    for d in json.loads(listed):
        assert d["name"] in words
        assert f"{d['rows']:,}" in words
        assert d["start"][:10] in words
    _, runs, _ = cli(capsys, research_ws, "runs", "list", "--json")
    _, table, _ = cli(capsys, research_ws, "runs", "list")
    for r in json.loads(runs):
        for digest in r["data_hashes"].values():
            assert digest[:12] in table  # the short form of every data hash
    _, libs, _ = cli(capsys, research_ws, "factor", "library", "list", "--json")
    _, table, _ = cli(capsys, research_ws, "factor", "library", "list")
    for lib in json.loads(libs):
        assert set(lib["description"].split()) <= set(table.split())  # wrapped, not cut


def test_columns_is_respected_when_piped(research_ws: Path) -> None:
    narrow = cli_process("--workspace", str(research_ws), "data", "list", env={"COLUMNS": "80"})
    assert narrow.returncode == 0, narrow.stderr
    _assert_fits(narrow.stdout, 80)
    wide = cli_process("--workspace", str(research_ws), "data", "list", env={"COLUMNS": "200"})
    assert "source" in wide.stdout.split()  # every column at 200
    assert max(len(line) for line in wide.stdout.splitlines()) > 80
    unset = cli_process("--workspace", str(research_ws), "data", "list", env={"COLUMNS": ""})
    assert "source" in unset.stdout.split()  # piped without COLUMNS: 160 columns


def test_table_layouts(tmp_path: Path) -> None:
    cols = (Col("name"), Col("long text"), Col("extra", drop=1))
    rows = [("alpha", "words " * 12, "x" * 10), ("beta", "short", "y")]

    def render(width: int) -> str:
        console = Console(width=width, file=open(tmp_path / f"{width}.txt", "w"))  # noqa: SIM115
        print_table(cols, rows, console=console)
        console.file.close()
        return (tmp_path / f"{width}.txt").read_text()

    wide = render(120)
    assert "extra" in wide
    assert "x" * 10 in wide
    assert len(wide.splitlines()) == 4  # header, rule, two rows
    wrapped = render(40)  # the long text wraps at spaces; every column stays
    _assert_fits(wrapped, 40)
    assert "x" * 10 in wrapped
    assert wrapped.count("words") == 12
    narrow = render(22)  # the optional column goes, and that is said
    _assert_fits(narrow, 22)
    assert "x" * 10 not in narrow
    assert "not shown at this width: extra" in " ".join(narrow.split())
    assert narrow.count("words") == 12
    tiny = render(12)  # too narrow for a table: one block per row
    _assert_fits(tiny, 12)
    assert "extra:" in tiny
    assert tiny.count("words") == 12
