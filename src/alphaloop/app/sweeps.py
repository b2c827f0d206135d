"""A backtest sweep on a workspace dataset: every point on the search span, on any pool.

:func:`sweep_dataset` loads the dataset's search span (the sealed holdout is
never read; using the dataset seals it at first use), runs a grid of
moving-average crosses (:mod:`alphaloop.backtest.sweep`) on a task pool of
the executor asked for, and records a ``sweep`` run with the data hash, the
grid and the number of points. Every point is a trial of the dataset: the
sweep adds them to its trial counter (the one every deflated Sharpe ratio reads),
so later selections on the dataset pay for them; a repeated sweep counts its
points again (counting too many trials only makes the deflation stricter). The
best point is chosen among all of them and reported with its deflated Sharpe
ratio for the dataset's whole trial count, as optimistic by selection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from alphaloop.app.workspace import Workspace
from alphaloop.errors import BacktestError

__all__ = ["sweep_dataset"]


def sweep_dataset(
    ws: Workspace,
    data: str,
    *,
    fast: Sequence[int],
    slow: Sequence[int],
    assets: Sequence[str] | None = None,
    executor: str = "local",
    workers: int = 1,
) -> dict[str, Any]:
    """Sweep ``fast`` x ``slow`` windows (bars, ``fast < slow`` pairs only) over ``assets``
    (default every asset) of ``data``; the points in grid order and the best by Sharpe.

    Raises
    ------
    BacktestError
        No valid (fast, slow) pair, or an asset the dataset does not have.
    """
    from alphaloop.backtest.sweep import SmaCross, run_sweep, sweep_data
    from alphaloop.compute import make_pool

    info = ws.data.info(data)
    ws.data.holdout_boundary(data)  # seals the holdout at first use
    panel = ws.data.load(data)
    names = list(assets) if assets else list(panel.assets)
    missing = [a for a in names if a not in panel.assets]
    if missing:
        raise BacktestError(
            f"dataset {data!r} has no asset {', '.join(missing)}",
            hint=f"it has {', '.join(panel.assets[:10])}{' ...' if panel.n_assets > 10 else ''}",
        )
    points = [SmaCross(a, f, s) for a in names for f in fast for s in slow if 1 <= f < s]
    if not points:
        raise BacktestError(
            f"no sweep point: every (fast, slow) pair of {list(fast)} x {list(slow)} "
            "needs 1 <= fast < slow"
        )
    params = {
        "data": data,
        "assets": names,
        "fast": list(fast),
        "slow": list(slow),
        "executor": executor,
        "workers": workers,
    }
    with ws.runs.start("sweep", params) as run:
        run.data_hashes = {data: info.content_hash}
        address = ws.settings.ray_address if executor == "ray" else None
        payload = sweep_data(panel)
        pool = make_pool(executor, payload, workers=workers, address=address)
        try:
            results = run_sweep(pool, points)
        finally:
            pool.close()
        finite = [r for r in results if math.isfinite(r.sharpe)]
        best = max(finite, key=lambda r: (r.sharpe, -r.fast, -r.slow)) if finite else None
        ppy = payload.periods_per_year
        _count_trials(ws, data, results, ppy)
        deflated = (
            _deflated(ws, data, payload, SmaCross(best.asset, best.fast, best.slow), ppy)
            if best is not None
            else None
        )
        run.result = {
            "n_points": len(results),
            "best": asdict(best) if best is not None else None,
            "deflated": deflated,
        }
    return {
        "run_id": run.id,
        "data": data,
        "span": {"start": str(panel.index[0]), "end": str(panel.index[-1]), "bars": panel.n_times},
        "fills": "next_open" if "open" in panel.field_names else "next_close",
        "n_points": len(results),
        "best": asdict(best) if best is not None else None,
        "deflated": deflated,
        "points": [asdict(r) for r in results],
        "caveats": list(info.caveats),
    }


def _count_trials(ws: Workspace, data: str, results: Sequence[Any], ppy: float) -> None:
    """Add every point to ``data``'s trial counter (per-period Sharpe where it is finite)."""
    from alphaloop.research.trial_counter import bump_trials

    with ws.db.write_session() as s:
        for r in results:
            sr = r.sharpe / math.sqrt(ppy) if math.isfinite(r.sharpe) else None
            bump_trials(s, data, trial=True, sr=sr)


def _deflated(ws: Workspace, data: str, payload: Any, point: Any, ppy: float) -> dict[str, Any]:
    """The best point's deflated Sharpe ratio against every trial counted on ``data``."""
    import numpy as np
    from scipy import stats

    from alphaloop.backtest.sweep import sma_cross_returns
    from alphaloop.validation import deflated_sharpe_ratio

    returns = sma_cross_returns(payload, point)
    returns = returns[np.isfinite(returns)]
    n_trials = ws.strategies.n_trials(data)
    _, _, var = ws.strategies.trial_sharpe_stats(data)
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    if std == 0.0 or len(returns) < 3:
        return {"dsr": None, "n_trials": n_trials, "reason": "too few or constant returns"}
    sr = float(np.mean(returns)) / std
    result = deflated_sharpe_ratio(
        sr,
        max(n_trials, 1),
        var,
        len(returns),
        float(stats.skew(returns)),
        float(stats.kurtosis(returns, fisher=False)),
    )
    return {"dsr": float(result.dsr), "n_trials": n_trials, "sharpe": sr * math.sqrt(ppy)}
