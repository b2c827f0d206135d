"""Robustness check: a strategy's Sharpe and drawdown over synthetic paths.

The strategy is backtested on its real data and on ``n_paths`` paths drawn
by a stored generator (as long as the real data, on its calendar); the
report is the distribution of the Sharpe ratio, annual return and maximum
drawdown over the paths and where the real result falls in it. It is a
check reported beside validation: nothing is recorded in the run log or
the strategy database, and it is never used to choose parameters (a
parameter tuned to synthetic paths is tuned to the generator).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alphaloop.app.backtests import load_strategy_data
from alphaloop.app.specs import resolve_spec
from alphaloop.app.synth import load_generator
from alphaloop.app.workspace import Workspace
from alphaloop.backtest import backtest_panel
from alphaloop.errors import BacktestError, SynthError
from alphaloop.jsonsafe import json_safe

__all__ = ["ROBUSTNESS_METRICS", "RobustnessReport", "robustness_check"]

ROBUSTNESS_METRICS = ("sharpe_ratio", "annual_return", "max_drawdown")
_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class RobustnessReport:
    """A strategy's metrics on its real data and their distribution over synthetic paths.

    Attributes
    ----------
    strategy, dataset, generator, kind : str
    n_paths, seed, length : int
        Paths asked, seed, bars per path.
    real : dict
        The real backtest's metrics (``ROBUSTNESS_METRICS``).
    paths : dict of str to list of float
        Each metric on each path that ran.
    failed : list of str
        Why paths that did not run failed.
    """

    strategy: str
    dataset: str
    generator: str
    kind: str
    n_paths: int
    seed: int
    length: int
    real: dict[str, float]
    paths: dict[str, list[float]]
    failed: list[str]

    def summary(self) -> dict[str, dict[str, float]]:
        """Per metric: quantiles over paths and the share of paths below the real value."""
        out = {}
        for m in ROBUSTNESS_METRICS:
            v = np.asarray(self.paths.get(m, []), dtype=float)
            v = v[np.isfinite(v)]
            row = {f"q{int(q * 100):02d}": float(np.quantile(v, q)) if v.size else math.nan
                   for q in _LEVELS}  # fmt: skip
            real = self.real.get(m, math.nan)
            row["real"] = real
            row["real_percentile"] = (
                float(np.mean(v < real)) if v.size and math.isfinite(real) else math.nan
            )
            out[m] = row
        return out

    @property
    def share_positive_sharpe(self) -> float:
        v = np.asarray(self.paths.get("sharpe_ratio", []), dtype=float)
        v = v[np.isfinite(v)]
        return float(np.mean(v > 0)) if v.size else math.nan

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "check": "robustness on synthetic paths (beside validation; not used to "
                "choose parameters)",
                "strategy": self.strategy,
                "dataset": self.dataset,
                "generator": {"name": self.generator, "kind": self.kind},
                "n_paths": self.n_paths,
                "paths_run": len(self.paths.get("sharpe_ratio", [])),
                "seed": self.seed,
                "length": self.length,
                "real": self.real,
                "summary": self.summary(),
                "share_positive_sharpe": self.share_positive_sharpe,
                "failed": self.failed,
                "synthetic": True,
            }
        )


def robustness_check(
    ws: Workspace,
    spec_path: str | Path,
    generator: str,
    *,
    n_paths: int = 100,
    seed: int = 0,
) -> RobustnessReport:
    """Backtest the spec at ``spec_path`` on its data and on ``n_paths`` synthetic paths.

    Raises
    ------
    SynthError
        The generator was fitted on other assets than the spec trades, or
        ``n_paths`` out of range.
    SpecError, BacktestError
        What the real backtest refuses.
    """
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or not 1 <= n_paths <= 10_000:
        raise SynthError(f"n_paths must be between 1 and 10,000, got {n_paths!r}")
    spec = resolve_spec(spec_path).spec
    record, gen = load_generator(ws, generator)
    info, panel = load_strategy_data(ws, spec)
    missing = sorted(set(panel.assets) - set(record.assets))
    if missing:
        raise SynthError(
            f"generator {generator!r} was fitted on {record.dataset} without "
            f"{len(missing)} asset(s) the strategy trades: {missing[:5]}",
            hint=f"fit one on {spec.data!r} with the strategy's universe",
        )
    real = backtest_panel(spec, info, panel)
    length = min(panel.n_times, len(gen.calendar_))
    paths: dict[str, list[float]] = {m: [] for m in ROBUSTNESS_METRICS}
    failed: list[str] = []
    for synthetic in gen.sample(n_paths, length, seed, name=generator):
        origin = synthetic.synthetic
        assert origin is not None
        syn_info = dataclasses.replace(
            info,
            content_hash=synthetic.content_hash(),
            caveats=(*info.caveats, origin.describe()),
        )
        try:
            result = backtest_panel(spec, syn_info, synthetic.select(panel.assets))
        except BacktestError as exc:
            failed.append(f"path {origin.path}: {exc.message}")
            continue
        for m in ROBUSTNESS_METRICS:
            paths[m].append(float(result.metrics.get(m, math.nan)))
    return RobustnessReport(
        strategy=spec.name,
        dataset=f"{info.name} v{info.version}",
        generator=generator,
        kind=record.kind,
        n_paths=n_paths,
        seed=seed,
        length=length,
        real={m: float(real.metrics.get(m, math.nan)) for m in ROBUSTNESS_METRICS},
        paths=paths,
        failed=failed,
    )
