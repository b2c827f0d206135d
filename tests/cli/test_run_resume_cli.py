"""``alphaloop run --config``: a run resumes, ``--restart`` starts it over, ``--role``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli

CONFIG = """
name: short-drill
data: sp500-stocks
start: 2006-03-01
end: 2006-06-30
styles: [momentum, breakout]
lifecycle: {shadow_bars: 42, review_every: 21}
"""


def test_a_finished_run_is_not_run_again_and_restart_starts_it_over(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    ws, cfg = tmp_path / "ws", tmp_path / "live.yaml"
    cfg.write_text(CONFIG)
    assert cli(capsys, ws, "init")[0] == 0
    code, out, err = cli(capsys, ws, "run", "--config", str(cfg), "--json")
    assert code == 0, err
    first = json.loads(out)
    assert first["resumed_at"] is None
    code, out, err = cli(capsys, ws, "run", "--config", str(cfg))
    assert code == 0, err
    assert f"resumed after {first['bars']} bars" in out
    code, out, _ = cli(capsys, ws, "audit", "list", "--action", "loop.started", "--json")
    assert code == 0
    assert len(json.loads(out)) == 1  # not started twice
    code, out, err = cli(capsys, ws, "run", "--config", str(cfg), "--restart", "--json")
    assert code == 0, err
    again = json.loads(out)
    assert again["resumed_at"] is None
    assert again["bars"] == first["bars"]


def test_another_configuration_under_a_finished_name_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ws, cfg = tmp_path / "ws", tmp_path / "live.yaml"
    cfg.write_text(CONFIG)
    assert cli(capsys, ws, "init")[0] == 0
    assert cli(capsys, ws, "run", "--config", str(cfg), "--json")[0] == 0
    cfg.write_text(CONFIG.replace("2006-06-30", "2006-07-31"))
    code, out, err = cli(capsys, ws, "run", "--config", str(cfg))
    assert code != 0
    assert "another configuration" in out + err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("args", "match"),
    [(["--role", "trader"], "one of all, loop, learning"), (["--role", "learning"], "learning")],
)
def test_bad_roles_are_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], match: str
) -> None:
    ws, cfg = tmp_path / "ws", tmp_path / "live.yaml"
    cfg.write_text(CONFIG)  # no learning section, and the in-process bus
    code, out, err = cli(capsys, ws, "run", "--config", str(cfg), *args)
    assert code != 0
    assert match in out + err
    assert "Traceback" not in out + err
