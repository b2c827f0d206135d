"""Validate a strategy: every statistic that accounts for how it was found, and a verdict.

:func:`validate_spec` backtests the spec on the research span (never the
sealed holdout) and computes:

- PSR against a zero Sharpe ratio and the minimum track record length;
- the deflated Sharpe ratio with ``n_trials`` = every distinct strategy
  evaluated on the dataset (this one included; the strategy database's
  count), the variance of their Sharpe ratios, and an effective number of
  trials from the correlation of their returns (re-run from the specs the
  strategy database holds);
- the probability of backtest overfitting (CSCV) and the walk-forward
  out-of-sample / in-sample Sharpe ratio of selecting the best member of the
  **trial family**: the recorded trials plus, when they are fewer than
  ``min_family``, the spec's neighbours (other ``k`` and rebalance
  frequencies), which show how much choosing among close variants flatters;
- Hansen's SPA test of the family against the benchmark;
- a permutation test of the signal against shuffled signals (cross-section);
- performance per market regime (trailing windows of a quarter, in bars of
  the dataset's calendar);

then applies a :class:`~alphaloop.validation.policy.ValidationPolicy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.app.backtests import prepare, run_backtest
from alphaloop.app.workspace import Workspace
from alphaloop.backtest import BacktestResult, StrategySpec
from alphaloop.errors import AlphaloopError
from alphaloop.jsonsafe import json_safe
from alphaloop.progress import Progress, no_progress, track
from alphaloop.validation import ValidationPolicy, Verdict

__all__ = ["ValidationReport", "scale_effective_trials", "trial_family", "validate_spec"]

NEIGHBOUR_REBALANCE = ("weekly", "monthly", "quarterly")


@dataclass(frozen=True)
class ValidationReport:
    """The statistics of a validated strategy and the policy's verdict."""

    backtest: BacktestResult
    stats: dict[str, Any]
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the statistics (``psr``, ``dsr``, ``n_trials``, ``pbo``,
        ``oos_is_ratio``, ``regimes``, ...), ``passed`` and ``reasons``."""
        return json_safe(
            {
                "name": self.backtest.spec.name,
                "spec_hash": self.backtest.spec_hash,
                "run_id": self.backtest.run_id,
                **self.stats,
                "passed": self.verdict.passed,
                "reasons": self.verdict.reasons,
                "gates": self.verdict.to_dict()["gates"],
                "policy": self.verdict.to_dict()["policy"],
                "metrics": self.backtest.metrics,
                "annualization": self.backtest.assumptions.get("annualization"),
                "implausible": self.backtest.implausible,
            }
        )


def _neighbours(spec: StrategySpec) -> list[StrategySpec]:
    """Close variants of ``spec``: other k (top_k) and rebalance frequencies.

    A template that builds its own book varies its searched parameters
    instead (:meth:`~alphaloop.strategies.TemplateParams.neighbours`).
    """
    if spec.template is not None and not spec.uses_portfolio_rule:
        variants = [
            spec.replace(template=t.model_dump(mode="json")) for t in spec.template.neighbours()
        ]
        return [v for v in variants if v.hash != spec.hash]
    ks: list[int | None] = [spec.portfolio.k]
    if spec.portfolio.method == "top_k" and spec.portfolio.k is not None:
        ks = sorted({max(1, spec.portfolio.k + d) for d in (-2, -1, 0, 1, 2)})
    out = []
    for k in ks:
        for freq in NEIGHBOUR_REBALANCE:
            portfolio = spec.portfolio.model_dump(mode="json") | {"k": k}
            variant = spec.replace(portfolio=portfolio, rebalance={"frequency": freq})
            if variant.hash != spec.hash:
                out.append(variant)
    return out


def trial_family(
    ws: Workspace, spec: StrategySpec, *, max_trials: int = 200, min_family: int = 8
) -> tuple[list[StrategySpec], int]:
    """The strategies selection is judged over, and how many of them are recorded trials.

    Recorded trials on the spec's dataset (the strategy database's) come first
    (the most recent ``max_trials``, the spec itself always included);
    neighbours of the spec are added while the family is smaller than
    ``min_family``.
    """
    recorded = []
    for data in ws.strategies.strategy_specs(spec.data, limit=max_trials):
        try:
            member = StrategySpec.from_dict(data)
        except AlphaloopError:
            continue  # a spec from an older version that no longer validates
        if member.hash != spec.hash:
            recorded.append(member)
    recorded = [spec, *recorded[-(max_trials - 1) :]] if max_trials > 1 else [spec]
    family = list(recorded)
    seen = {s.hash for s in family}
    for variant in _neighbours(spec):
        if len(family) >= min_family:
            break
        if variant.hash not in seen:
            family.append(variant)
            seen.add(variant.hash)
    return family, len(recorded)


def _family_returns(
    ws: Workspace,
    spec: StrategySpec,
    family: list[StrategySpec],
    index: pd.DatetimeIndex,
    progress: Progress | None = None,
) -> np.ndarray:
    """(T, M) simple returns of the family on the spec's index (0 where a member is flat)."""
    cols = []
    others = [member for member in family if member.hash != spec.hash]
    for member in track(others, "validation: backtesting the trial family", progress):
        try:
            r = run_backtest(ws, member, record=False).simulation.returns
        except AlphaloopError:
            continue  # a trial that cannot run here any more is left out
        cols.append(r.reindex(index).fillna(0.0).to_numpy())
    return np.column_stack(cols) if cols else np.empty((len(index), 0))


def scale_effective_trials(eff_sample: float | None, sampled: int, n_trials: int) -> float | None:
    """The effective number of independent trials among all ``n_trials``.

    The correlation estimate comes from the ``sampled`` trials re-run for
    the family (at most ``max_trials``, and only those that traded); every
    trial ever made counts, so the share of independent trials found in the
    sample is applied to all of them. Never below 1 or above ``n_trials``.
    """
    if eff_sample is None or sampled <= 0:
        return None
    if n_trials <= sampled:
        return eff_sample
    return float(min(n_trials, max(1.0, eff_sample * n_trials / sampled)))


def _per_period_sharpe(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sd > 0, x.mean(axis=0) / sd, np.nan)


def _walk_forward(returns: np.ndarray, n_splits: int = 5) -> tuple[list[float], list[float]]:
    """IS and OOS Sharpe of the IS-best family member over expanding walk-forward folds."""
    from alphaloop.validation import WalkForward

    is_sr, oos_sr = [], []
    splitter = WalkForward(n_splits=n_splits)
    for train, test in splitter.split(returns):
        train_sr = _per_period_sharpe(returns[train])
        if np.isnan(train_sr).all():
            continue
        best = int(np.nanargmax(train_sr))
        is_sr.append(float(train_sr[best]))
        oos_sr.append(float(_per_period_sharpe(returns[test][:, [best]])[0]))
    return is_sr, oos_sr


def _partitions(n_obs: int, wanted: int = 16) -> int:
    s = min(wanted, max(2, n_obs // 20))
    return s - (s % 2)


def _permutation(ws: Workspace, spec: StrategySpec, seed: int) -> dict[str, Any]:
    """Permutation test of the signal's rank IC against next-period returns at rebalances."""
    from alphaloop.backtest import rebalance_rows
    from alphaloop.validation import signal_permutation_test

    prep = prepare(ws, spec)
    panel = prep.trading_panel
    if panel.n_assets < 5:
        return {"p_value": None, "note": "needs at least 5 assets for a cross-section"}
    rows = np.flatnonzero(rebalance_rows(panel.index, spec.rebalance))
    if len(rows) < 10:
        return {"p_value": None, "note": "fewer than 10 rebalances"}
    close = np.asarray(panel["close"], dtype=np.float64)
    nxt = np.append(rows[1:], len(close) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fwd = close[nxt] / close[rows] - 1.0
    signal = prep.signal[prep.start_row :][rows]
    signal = np.where(prep.eligible[prep.start_row :][rows], signal, np.nan)
    res = signal_permutation_test(signal, fwd, n_permutations=1000, seed=seed)
    return {"p_value": res.p_value, "observed_rank_ic": res.observed, "n_dates": res.n_dates}


def validate_spec(
    ws: Workspace,
    spec: StrategySpec,
    policy: ValidationPolicy | None = None,
    *,
    max_trials: int = 200,
    min_family: int = 8,
    seed: int = 0,
    progress: Progress | None = None,
) -> ValidationReport:
    """Backtest ``spec``, compute its validation statistics and apply ``policy``.

    The work is recorded as a ``validate`` run (from its start, so an
    interruption is recorded too) with the spec, the verdict and the id of
    the backtest inside it, which is recorded as a run of its own (it is a
    trial too). ``progress`` (see :mod:`alphaloop.progress`) hears of each
    backtest of the trial family and each statistic.
    """
    params = {"spec_hash": spec.hash, "spec": spec.model_dump(mode="json")}
    with ws.runs.start("validate", params) as run:
        report = _validate(
            ws,
            spec,
            policy or ValidationPolicy(),
            max_trials=max_trials,
            min_family=min_family,
            seed=seed,
            progress=progress or no_progress,
            params=run.params,
        )
        run.result = {k: v for k, v in report.to_dict().items() if k != "metrics"}
        run.data_hashes = {spec.data: report.backtest.dataset.content_hash}
    return report


_STATS_STEP = "validation: statistics"
_N_STATS = 4  # PBO and walk-forward, SPA and regimes, the permutation test, the verdict


def _validate(
    ws: Workspace,
    spec: StrategySpec,
    policy: ValidationPolicy,
    *,
    max_trials: int,
    min_family: int,
    seed: int,
    progress: Progress,
    params: dict[str, Any],
) -> ValidationReport:
    """The statistics and verdict; ``params`` (the run's) gets the backtest's run id."""
    from alphaloop.validation import (
        deflated_sharpe_ratio,
        effective_number_of_trials,
        min_track_record_length,
        oos_is_ratio,
        probabilistic_sharpe_ratio,
        probability_of_backtest_overfitting,
        regime_performance,
        spa_test,
    )

    progress("validation: backtest", 0, 1)
    result = run_backtest(ws, spec)
    params["backtest_run"] = result.run_id
    progress("validation: backtest", 1, 1)
    returns = result.simulation.returns
    r = returns.to_numpy()
    n_obs = len(r)
    ppy = float(result.metrics["periods_per_year"])
    sr = float(_per_period_sharpe(r[:, None])[0])
    mean = r.mean()
    sd = r.std()
    skew = float(((r - mean) ** 3).mean() / sd**3) if sd > 0 else 0.0
    kurt = float(((r - mean) ** 4).mean() / sd**4) if sd > 0 else 3.0

    family, n_recorded = trial_family(ws, spec, max_trials=max_trials, min_family=min_family)
    others = _family_returns(ws, spec, family, returns.index, progress)
    progress(_STATS_STEP, 0, _N_STATS)
    matrix = np.column_stack([r, others])
    trial_sr = _per_period_sharpe(matrix)
    recorded = matrix[:, :n_recorded]
    n_trials = ws.strategies.n_trials(spec.data)
    var_trials = float(np.nanvar(_per_period_sharpe(recorded), ddof=1)) if n_recorded > 1 else 0.0
    # a trial that never traded has no correlation to speak of: leave it out here
    varied = recorded[:, recorded.std(axis=0) > 0]
    eff_sample = effective_number_of_trials(varied) if varied.shape[1] > 1 else None
    eff = scale_effective_trials(eff_sample, varied.shape[1], n_trials)

    stats: dict[str, Any] = {"n_obs": n_obs, "years": n_obs / ppy, "sharpe_ratio": sr * ppy**0.5}
    finite = math.isfinite(sr)
    stats["psr"] = float(probabilistic_sharpe_ratio(sr, 0.0, n_obs, skew, kurt)) if finite else None
    dsr = (
        deflated_sharpe_ratio(sr, n_trials, var_trials, n_obs, skew, kurt, effective_trials=eff)
        if finite
        else None
    )
    stats["dsr"] = dsr.dsr if dsr else None
    stats["sr0_annual"] = dsr.sr0 * ppy**0.5 if dsr else None
    stats["n_trials"] = n_trials
    stats["effective_trials"] = eff
    stats["effective_trials_in_sample"] = eff_sample
    stats["var_trial_sharpe"] = var_trials
    stats["min_track_record"] = (
        float(min_track_record_length(sr, 0.0, skew, kurt)) if finite and sr > 0 else None
    )
    stats["n_round_trips"] = result.metrics["n_round_trips"]

    family_info = {"size": matrix.shape[1], "recorded_trials": n_recorded}
    family_info["neighbours"] = matrix.shape[1] - n_recorded
    stats["family"] = family_info
    if matrix.shape[1] >= 2:
        pbo = probability_of_backtest_overfitting(matrix, _partitions(n_obs))
        stats["pbo"] = pbo.pbo
        stats["pbo_detail"] = {
            "n_partitions": pbo.n_partitions,
            "n_combinations": pbo.n_combinations,
            "prob_oos_loss": pbo.prob_oos_loss,
            "degradation_slope": pbo.slope,
            "degradation_r_squared": pbo.r_squared,
        }
        is_sr, oos_sr = _walk_forward(matrix)
        stats["oos_is_ratio"] = oos_is_ratio(is_sr, oos_sr)
        stats["walk_forward"] = {"is_sharpe": is_sr, "oos_sharpe": oos_sr}
    else:
        stats["pbo"] = None
        stats["oos_is_ratio"] = None
    progress(_STATS_STEP, 1, _N_STATS)
    bench = result.benchmark
    if bench is not None and bench.notna().sum() > 100:
        spa = spa_test(bench.fillna(0.0).to_numpy(), matrix, reps=500, seed=seed)
        stats["spa_p_value"] = spa.p_value
        # a quarter's trailing window and a year of history, in bars of this calendar
        regimes = regime_performance(
            returns,
            bench.fillna(0.0),
            periods_per_year=ppy,
            window=max(2, round(ppy / 4)),
            min_history=max(2, round(ppy)),
        )
        stats["regimes"] = regimes.to_dict()
        stats["regime_share"] = regimes.share_acceptable
    else:
        stats["spa_p_value"] = None
        stats["regimes"] = None
        stats["regime_share"] = None
    progress(_STATS_STEP, 2, _N_STATS)
    stats["permutation"] = _permutation(ws, spec, seed)
    progress(_STATS_STEP, 3, _N_STATS)
    stats["trial_sharpes_annual"] = {
        "max": float(np.nanmax(trial_sr)) * ppy**0.5,
        "median": float(np.nanmedian(trial_sr)) * ppy**0.5,
    }
    verdict = policy.evaluate(stats)
    progress(_STATS_STEP, 4, _N_STATS)
    return ValidationReport(result, stats, verdict)
