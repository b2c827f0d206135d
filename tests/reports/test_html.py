"""The pieces shared by the HTML reports: atomic writes, time axes, offline plotly.js.

That a failed rename keeps the old file and leaves no temporary file behind
is tested through a whole page in ``tests/backtest/test_tearsheet.py``
(``test_written_atomically``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from alphaloop.reports.html import axis_values, write_atomic

posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes and umask are POSIX")


@posix_only
@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_file_has_the_mode_the_umask_allows(
    tmp_path: Path, umask: int, expected: int
) -> None:
    target = tmp_path / "report.html"
    previous = os.umask(umask)
    try:
        write_atomic(target, "page")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == expected
    assert target.read_text(encoding="utf-8") == "page"


@posix_only
def test_replacing_a_file_gives_the_new_one_the_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "report.html"
    write_atomic(target, "old")
    target.chmod(0o600)
    previous = os.umask(0o022)
    try:
        write_atomic(target, "new ✓")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_axis_values_are_dates_at_midnight_and_times_otherwise() -> None:
    days = pd.DatetimeIndex(["2024-01-02", "2024-01-03"])
    assert axis_values(days) == ["2024-01-02", "2024-01-03"]
    hours = pd.DatetimeIndex(["2024-01-02 09:30", "2024-01-02 10:30"], tz="America/New_York")
    assert axis_values(hours) == ["2024-01-02 14:30:00", "2024-01-02 15:30:00"]  # in UTC
    labels = pd.Index(["1", "2"])
    assert axis_values(labels) is labels
