"""Which bars the lookahead scan checks: every decision bar, and sparse peeks at every phase.

A value that reads the next bar is caught only by a re-run truncated at its
own row, so a peek on one bar in N is found only when a truncation row lands
on one of its rows. These tests plant such peeks and measure the detection
rate. Each planted read sits in one (row, asset) cell and is caught only by a
truncation at that row, whatever the other cells hold, so one output can carry
many planted phases (asset ``phase % n_assets`` peeks at the rows of that
phase) and the finding's row and asset say which phase was caught.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.backtest.lookahead import (
    DEFAULT_MAX_DECISION_POINTS,
    scan_lookahead,
    truncation_rows,
)
from alphaloop.backtest.portfolio import rebalance_rows
from alphaloop.backtest.spec import Rebalance
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError


@pytest.fixture(scope="module")
def panel(shared_workspace: Workspace) -> Panel:
    """20 large-cap stocks, daily close, 1990-2022 (8313 rows, no missing close)."""
    p = shared_workspace.data.load("sp500-stocks")
    assert np.isfinite(p["close"]).all()
    return p


def momentum(close: np.ndarray) -> np.ndarray:
    """20-bar return: a clean signal (NaN for the first 20 rows)."""
    out = np.full(close.shape, np.nan)
    out[20:] = close[20:] / close[:-20] - 1
    return out


def planted(full: Panel, peeks: np.ndarray, ahead: int = 1):
    """A signal function: momentum, except where ``peeks`` (rows of ``full``, assets) is
    True, where it is the return over the next ``ahead`` bars (a read of the future).

    Peek cells are located by timestamp, so a truncated or shortened panel peeks at the
    same bars. Also returns ``clean``, the same momentum with no peek.
    """

    def fn(p: Panel) -> dict[str, np.ndarray]:
        close = np.asarray(p["close"])
        clean = momentum(close)
        fwd = np.full(close.shape, np.nan)
        fwd[:-ahead] = close[ahead:] / close[:-ahead] - 1
        cells = peeks[full.index.get_indexer(p.index)]
        return {"peek": np.where(cells, fwd, clean), "clean": clean}

    return fn


def sample_rows(panel: Panel) -> np.ndarray:
    """The 20 spread truncation rows of the default settings."""
    return truncation_rows(panel.n_times, 20, 252, 0)


def caught_cells(report, panel: Panel, output: str = "peek") -> set[tuple[int, int]]:
    """(row, asset) of every truncation finding of ``output``."""
    return {
        (panel.index.get_loc(f.timestamp), panel.asset_index(f.asset))
        for f in report.findings
        if f.output == output and f.kind == "truncation"
    }


def phase_peeks(panel: Panel, period: int) -> np.ndarray:
    """Asset ``phase % n_assets`` peeks at the rows ``t`` with ``t % period == phase``."""
    rows = np.arange(panel.n_times)
    peeks = np.zeros(panel.shape, dtype=bool)
    peeks[rows, (rows % period) % panel.n_assets] = True
    return peeks


@pytest.mark.parametrize("period", [20, 60, 250])
def test_sparse_peek_is_caught_at_every_phase_with_the_defaults(panel: Panel, period: int) -> None:
    peeks = phase_peeks(panel, period)
    report = scan_lookahead(planted(panel, peeks), panel, max_findings=100_000)
    assert report.offending_outputs == ("peek",)  # the clean signal is never flagged
    assert report.counts["peek"]["warmup"] == 0
    caught = caught_cells(report, panel)
    assert all(peeks[t, j] for t, j in caught)
    # detection rate 100% at every phase offset
    assert {t % period for t, _ in caught} == set(range(period))
    assert report.decision_stride == 17
    assert len(report.checked_points) <= DEFAULT_MAX_DECISION_POINTS + 1 + 20


@pytest.mark.parametrize(("period", "found"), [(20, 13), (60, 18), (250, 20)])
def test_the_spread_points_alone_miss_most_phases(panel: Panel, period: int, found: int) -> None:
    """Without decision bars the 20 spread points are all there is: most phases go unseen."""
    no_decisions = np.zeros(panel.n_times, dtype=bool)
    report = scan_lookahead(
        planted(panel, phase_peeks(panel, period)),
        panel,
        decisions=no_decisions,
        max_findings=100_000,
        warmups=(),
    )
    assert report.decision_bars == 0
    assert "decision bars: none in reach" in report.summary()
    assert len({t % period for t, _ in caught_cells(report, panel)}) == found


def test_every_decision_bar_is_checked_when_they_fit(panel: Panel) -> None:
    short = panel.iloc(slice(0, 700))  # 447 bars in reach: at most 500, so all re-run
    rows = np.arange(short.n_times)
    peeks = np.zeros(short.shape, dtype=bool)
    peeks[rows, rows % short.n_assets] = True  # every bar reads its next bar somewhere
    report = scan_lookahead(planted(short, peeks), short, max_findings=100_000)
    assert report.decision_bars == report.decision_bars_checked == 700 - 2 - 252 + 1
    assert report.decision_stride == 1
    assert report.coverage_horizon == 1
    assert "all 447 checked against any read" in report.summary()
    caught = caught_cells(report, short)
    assert caught == {(t, t % short.n_assets) for t in range(252, 699)}
    assert report.counts["clean"] == {"truncation": 0, "warmup": 0}


def test_given_decision_bars_are_all_checked(panel: Panel) -> None:
    """Monthly rebalance bars as decisions: a peek on a random third of them is always caught."""
    decisions = rebalance_rows(panel.index, Rebalance(frequency="monthly"))
    rng = np.random.default_rng(11)
    bars = np.flatnonzero(decisions)
    bars = bars[(bars >= 252) & (bars <= panel.n_times - 2)]
    chosen = rng.choice(bars, size=bars.size // 3, replace=False)
    peeks = np.zeros(panel.shape, dtype=bool)
    peeks[chosen, rng.integers(0, panel.n_assets, chosen.size)] = True
    report = scan_lookahead(planted(panel, peeks), panel, decisions=decisions, max_findings=100_000)
    assert report.decision_bars == bars.size == report.decision_bars_checked
    assert report.coverage_horizon == 1
    planted_cells = {(int(t), int(j)) for t, j in zip(*np.nonzero(peeks), strict=True)}
    assert caught_cells(report, panel) == planted_cells
    assert report.offending_outputs == ("peek",)
    # the 12 month starts of the first year are before min_history: said in a note
    assert any("12 decision bar(s) before min_history=252" in n for n in report.notes)
    assert len(report.checked_points) == len(np.union1d(bars, sample_rows(panel)))


def test_thinned_decision_bars_cover_reads_past_the_stride(panel: Panel) -> None:
    """With at most 100 re-runs for 8060 decision bars, every 83rd is re-run (81 = 3^4 and
    82 = 2 * 41 are passed over): a read 83 bars ahead is caught on every bar, a read of the
    next bar only on the re-run bars."""
    rows = np.arange(panel.n_times)
    every_bar = np.zeros(panel.shape, dtype=bool)
    every_bar[rows, rows % panel.n_assets] = True
    far = scan_lookahead(
        planted(panel, every_bar, ahead=83), panel, max_decision_points=100, max_findings=10**6
    )
    assert far.decision_bars == 8060
    assert far.decision_stride == 83
    assert far.decision_bars_checked == len(far.checked_points) < 100 + 1 + 20
    assert far.coverage_horizon <= 83
    assert "re-run (one in 83)" in far.summary()
    last = panel.n_times - 1 - 83  # later bars read past the data: NaN in every run
    assert caught_cells(far, panel) >= {(t, t % panel.n_assets) for t in range(252, last + 1)}

    near = scan_lookahead(
        planted(panel, every_bar), panel, max_decision_points=100, max_findings=10**6
    )
    checked = [panel.index.get_loc(t) for t in near.checked_points]
    assert caught_cells(near, panel) == {(t, t % panel.n_assets) for t in checked}
    assert near.counts["clean"] == {"truncation": 0, "warmup": 0}


def test_the_report_records_decision_coverage(panel: Panel) -> None:
    short = panel.iloc(slice(0, 700))
    fn = planted(short, np.zeros(short.shape, dtype=bool))
    report = scan_lookahead(fn, short, max_decision_points=50)
    # 447 decision bars, at most 50 re-runs: stride 9 -> 11 (9 = 3^2, 10 = 2 * 5)
    assert report.clean
    assert report.decision_stride == 11
    picked = set(range(252, 699, 11)) | {698}
    checked = {short.index.get_loc(t) for t in report.checked_points}
    assert checked == picked | set(sample_rows(short).tolist())
    data = report.to_dict()
    assert data["decision_bars"] == 447
    assert data["decision_bars_checked"] == len(checked)
    assert data["decision_stride"] == 11
    assert data["coverage_horizon"] == report.coverage_horizon <= 11
    assert not any("before min_history" in n for n in report.notes)  # default decisions
    unlimited = scan_lookahead(fn, short, max_decision_points=None, warmups=())
    assert unlimited.decision_bars_checked == 447


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"max_decision_points": 0}, "max_decision_points must be an integer >= 1"),
        ({"max_decision_points": 2.5}, "max_decision_points must be an integer"),
        ({"decisions": np.ones(10, dtype=bool)}, r"shape \(8313,\); got dtype bool and shape"),
        ({"decisions": np.ones(8313)}, "decisions must be a boolean array"),
    ],
)
def test_bad_decision_settings_raise(panel: Panel, setting: dict, match: str) -> None:
    with pytest.raises(BacktestError, match=match):
        scan_lookahead(lambda p: {"x": p["close"]}, panel, **setting)
