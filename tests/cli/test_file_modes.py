"""Files the commands write get the permissions of any new file: 0o666 (0o777 for a
directory) less the umask, never the 0o600 of a temporary file."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.cli import main
from alphaloop.files import create_temp_dir, create_temp_file, write_atomic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")

MOMENTUM = "Ref($close, 1) / Ref($close, 21) - 1"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o002], ids=["umask022", "umask002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a small imported dataset (3 assets, 300 days), quick to backtest."""
    tmp = tmp_path_factory.mktemp("modes")
    rng = np.random.default_rng(7)
    days = pd.bdate_range("2020-01-01", periods=300)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (len(days), 3)), axis=0))
    frame = pd.DataFrame(close, index=days.strftime("%Y-%m-%d"), columns=["AAA", "BBB", "CCC"])
    frame.index.name = "timestamp"
    frame.round(4).to_csv(tmp / "closes.csv")
    ws = tmp / "ws"
    code = main(["--workspace", str(ws), "data", "import", str(tmp / "closes.csv"),
                 "--name", "small", "--layout", "wide"])  # fmt: skip
    assert code == 0
    return ws


def test_helpers_follow_the_umask(tmp_path: Path, umask: int) -> None:
    fd, tmp = create_temp_file(tmp_path / "a.bin")
    os.close(fd)
    assert mode(tmp) == 0o666 & ~umask
    assert mode(create_temp_dir(tmp_path / "d")) == 0o777 & ~umask
    write_atomic(tmp_path / "b.txt", b"bytes")
    assert mode(tmp_path / "b.txt") == 0o666 & ~umask


def test_command_outputs_follow_the_umask(
    small_ws: Path, tmp_path: Path, umask: int, capsys: pytest.CaptureFixture[str]
) -> None:
    file_mode = 0o666 & ~umask
    ws = ["--workspace", str(small_ws)]
    # exported factor values, and the factor cache (written afresh)
    shutil.rmtree(small_ws / "cache", ignore_errors=True)
    values = tmp_path / "values.parquet"
    assert main([*ws, "factor", "eval", MOMENTUM, "--data", "small", "--out", str(values),
                 "--cache"]) == 0  # fmt: skip
    assert mode(values) == file_mode
    cached = sorted((small_ws / "cache" / "factors").glob("*/*.npy"))
    assert cached
    assert mode(cached[-1]) == file_mode
    # a factor report
    report = tmp_path / "factor.html"
    assert main([*ws, "factor", "analyze", MOMENTUM, "--data", "small", "--market", "none",
                 "--known", "none", "--report", str(report)]) == 0  # fmt: skip
    assert mode(report) == file_mode
    # a backtest tearsheet
    tearsheet = tmp_path / "backtest.html"
    assert main([*ws, "backtest", "--expr", MOMENTUM, "--data", "small", "--top-k", "1",
                 "--fills", "next_close", "--report", str(tearsheet)]) == 0  # fmt: skip
    assert mode(tearsheet) == file_mode
    # a factor library kept in the workspace
    library = tmp_path / "lib.yaml"
    library.write_text(f"name: lib{umask:o}\nfactors:\n  MOM: {MOMENTUM}\n")
    assert main([*ws, "factor", "library", "add", str(library)]) == 0
    assert mode(small_ws / "libraries" / f"lib{umask:o}.yaml") == file_mode
    capsys.readouterr()


def test_an_exported_model_follows_the_umask(tmp_path: Path, umask: int) -> None:
    from alphaloop.models import make_estimator

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = x @ np.array([0.5, -0.2, 0.1]) + rng.normal(scale=0.1, size=200)
    estimator = make_estimator("ridge", "regression", {}, 0).fit(x, y)
    target = tmp_path / "exported"
    estimator.save(target)
    assert mode(target) == 0o777 & ~umask
    files = [p for p in target.rglob("*") if p.is_file()]
    assert files
    assert {mode(p) for p in files} == {0o666 & ~umask}
