"""The demo's backtest: the run id it prints is the one in its tearsheet and in the run log."""

from __future__ import annotations

import re
from pathlib import Path

from alphaloop.app import Workspace
from alphaloop.app.demo_backtest import backtest_section


def test_printed_run_id_is_the_tearsheets(tmp_path: Path) -> None:
    lines: list[str] = []
    with Workspace(tmp_path / "ws") as ws:
        with ws.runs.start("demo") as demo_run:  # the demo records its own run first
            summary = backtest_section(ws, lambda text, **_: lines.append(str(text)))
        runs = ws.runs.list(kind="backtest")
    printed = {int(m) for line in lines for m in re.findall(r"\brun (\d+)\b", line)}
    html = Path(summary["report"]).read_text()
    shown = re.search(r"<td>run id</td>\s*<td>(\d+)</td>", html)
    assert shown is not None
    assert printed == {summary["run_id"]} == {int(shown.group(1))}
    assert [r["id"] for r in runs] == [summary["run_id"]]
    assert summary["run_id"] != demo_run.id
