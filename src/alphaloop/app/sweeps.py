"""A backtest sweep on a workspace dataset: every point on the search span, on any pool.

:func:`sweep_dataset` loads the dataset's search span (the sealed holdout is
never read; using the dataset seals it at first use), runs a grid of
moving-average crosses (:mod:`alphaloop.backtest.sweep`) on a task pool of
the executor asked for, and records a ``sweep`` run with the data hash, the
grid and the number of points. The best point is chosen among all of them:
its Sharpe ratio is reported next to that number, as optimistic by selection.
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
        pool = make_pool(executor, sweep_data(panel), workers=workers, address=address)
        try:
            results = run_sweep(pool, points)
        finally:
            pool.close()
        finite = [r for r in results if math.isfinite(r.sharpe)]
        best = max(finite, key=lambda r: (r.sharpe, -r.fast, -r.slow)) if finite else None
        run.result = {
            "n_points": len(results),
            "best": asdict(best) if best is not None else None,
        }
    return {
        "run_id": run.id,
        "data": data,
        "span": {"start": str(panel.index[0]), "end": str(panel.index[-1]), "bars": panel.n_times},
        "fills": "next_open" if "open" in panel.field_names else "next_close",
        "n_points": len(results),
        "best": asdict(best) if best is not None else None,
        "points": [asdict(r) for r in results],
        "caveats": list(info.caveats),
    }
