"""Every registered template, the same checks: written by ``strategy new``, both
engines agree, the lookahead scan is clean, and on pure noise it does not pass
the validation gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest, scan_spec
from alphaloop.app.strategy_templates import new_template_spec
from alphaloop.app.validation import validate_spec
from alphaloop.strategies import TEMPLATES

NAMES = sorted(TEMPLATES)


def noise_csv(path: Path, *, seed: int, n_times: int = 1100, n_assets: int = 16) -> Path:
    """Random-walk OHLCV bars with a common factor: no edge to find."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2012-01-02", periods=n_times)
    market = rng.normal(0.0002, 0.008, n_times)
    rets = market[:, None] * rng.uniform(0.6, 1.4, n_assets) + rng.normal(
        0, 0.012, (n_times, n_assets)
    )
    close = 40.0 * np.exp(np.cumsum(rets, axis=0))
    gap = np.exp(rng.normal(0, 0.003, close.shape))
    open_ = np.vstack([close[:1], close[:-1]]) * gap
    spread = np.abs(rng.normal(0, 0.008, close.shape))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = rng.integers(200_000, 2_000_000, close.shape).astype(float)
    frames = []
    for j in range(n_assets):
        frames.append(
            pd.DataFrame(
                {
                    "date": index.strftime("%Y-%m-%d"),
                    "asset": f"N{j:02d}",
                    "open": open_[:, j].round(4),
                    "high": high[:, j].round(4),
                    "low": low[:, j].round(4),
                    "close": close[:, j].round(4),
                    "volume": volume[:, j],
                }
            )
        )
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("templates")
    w = Workspace(root / "ws")
    for seed in (1, 2):
        w.data.import_file(noise_csv(root / f"noise{seed}.csv", seed=seed), f"noise{seed}")
    yield w
    w.close()


@pytest.mark.parametrize("name", NAMES)
def test_both_engines_agree_and_the_scan_is_clean(ws: Workspace, name: str) -> None:
    spec = new_template_spec(name, "noise1", ws=ws)
    assert spec.template is not None
    assert spec.template.template == name
    vec = run_backtest(ws, spec, engine="vectorized", record=False)
    evt = run_backtest(ws, spec, engine="event", record=False)
    a, b = vec.simulation.equity.to_numpy(), evt.simulation.equity.to_numpy()
    assert len(a) == len(b) > 100
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)
    assert len(vec.simulation.trades) == len(evt.simulation.trades) > 0
    assert vec.assumptions["template"]["template"] == name
    report = scan_spec(ws, spec, n_points=6, seed=3)
    assert report.clean, report.findings


@pytest.mark.slow
def test_no_template_passes_the_gate_on_noise(ws: Workspace) -> None:
    """Default settings, two noise datasets: passes stay within a 5% false-positive rate."""
    runs, passed = 0, []
    for name in NAMES:
        for data in ("noise1", "noise2"):
            report = validate_spec(ws, new_template_spec(name, data, ws=ws), seed=0)
            runs += 1
            if report.verdict.passed:
                passed.append((name, data))
    assert len(passed) <= max(1, int(np.ceil(0.05 * runs))), passed
