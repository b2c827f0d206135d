"""Train an RL spec across seeds, evaluate it honestly, register it; tune it on validation.

:func:`train_rl` loads the spec's data through the catalog (so the sealed
holdout is out of reach) and, for each seed: trains on the training span
with validation callbacks (:func:`alphaloop.rl.train.train_seed`),
checkpointing to ``<workspace>/rl/checkpoints/<name>/<spec hash>/seed_<s>/``,
then runs the kept policy once over the test span. The test results are
summarised across seeds (mean, spread, interval; never the best seed) next to
buy-and-hold and equal weight on the same bars with the same costs and fills.
With ``ensemble:`` a regime ensemble is trained and evaluated per seed too.
The policies of every seed are registered as one version ``NAME/vN`` (family
``rl``), whose signal (:func:`rl_signal`) is the seeds' mean target weights.

:func:`tune_rl` searches hyperparameters with Optuna on the validation span
only and records the number of trials with the result.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.app.workspace import Workspace
from alphaloop.jsonsafe import json_safe
from alphaloop.progress import Progress, no_progress
from alphaloop.rl.spec import RLSpec

__all__ = ["RLTrainResult", "RLTuneResult", "rl_signal", "train_rl", "tune_rl"]

CAVEAT_SURVIVORS = (
    "the bundled stock universe is today's survivors (survivorship bias): results on it "
    "flatter any long strategy"
)


@dataclass
class RLTrainResult:
    """A training run: per-seed test results, their summary, benchmarks, the version."""

    doc: dict[str, Any]
    curves: dict[str, pd.Series] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.doc


@dataclass
class RLTuneResult:
    """A search: the Optuna result and the run it was recorded as."""

    doc: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.doc


def _load(ws: Workspace, spec: RLSpec) -> tuple[Any, Any, Any]:
    """The spec's data (search span only), its catalog info and the env config."""
    info = ws.data.info(spec.data, spec.version)
    assets = None if spec.universe == "all" else list(spec.universe)
    start = None if spec.start is None else pd.Timestamp(spec.start, tz="UTC")
    end = None
    if spec.end is not None:
        end = pd.Timestamp(spec.end, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    panel = ws.data.load(spec.data, version=spec.version, start=start, end=end, assets=assets)
    config = spec.env.model_copy(update={"assets": tuple(panel.assets)})
    return panel, info, config


def _ppy(info: Any) -> float:
    ppy = info.market.periods_per_year
    return float(ppy) if ppy is not None else 252.0


def _env(
    config: Any, panel: Any, spec: RLSpec, span: Any, *, evaluation: bool, seed: int = 0,
    n_envs: int = 1,
):  # fmt: skip
    from alphaloop.rl import TradingEnv, VecTradingEnv
    from alphaloop.rl.hardstop import HardStopWrapper
    from alphaloop.rl.rollout import evaluation_config

    cfg = (
        evaluation_config(config, span)
        if evaluation
        else config.model_copy(update={"span": span, "seed": seed})
    )
    if n_envs > 1:  # training only; the spec refuses risk limits with n_envs > 1
        return VecTradingEnv(cfg, panel, n_envs=n_envs, seed=seed)
    env: Any = TradingEnv(cfg, panel)
    return HardStopWrapper(env, spec.risk) if spec.risk is not None else env


def _augmentation(panel: Any, spans: Any, spec: RLSpec) -> tuple[list[Any], Any]:
    """The synthetic training panels of ``spec.augment`` (none without it) and their record."""
    if spec.augment is None:
        return [], None
    from alphaloop.rl.augment import augmented_panels

    return augmented_panels(panel, spans.train, spec.augment, label=f"rl:{spec.name}")


def _mixture(train_env: Any, config: Any, synthetic: list[Any], spec: RLSpec, seed: int) -> Any:
    """The real training environment beside one environment per synthetic panel (each
    used whole), an episode drawn from one of them at each reset."""
    from alphaloop.rl import TradingEnv
    from alphaloop.rl.augment import MixtureEnv
    from alphaloop.rl.hardstop import HardStopWrapper

    envs = [train_env]
    for k, path in enumerate(synthetic):
        cfg = config.model_copy(update={"span": "all", "seed": seed + 1_000 * (k + 1)})
        env: Any = TradingEnv(cfg, path)
        envs.append(HardStopWrapper(env, spec.risk) if spec.risk is not None else env)
    return MixtureEnv(envs, seed=seed)


def _scorer(config: Any, panel: Any, spec: RLSpec):
    from alphaloop.rl.rollout import rollout

    env = _env(config, panel, spec, "validation", evaluation=True)
    return lambda model: rollout(model, env, seed=spec.seed).log_growth


def _span_doc(spans: Any) -> dict[str, Any]:
    out = {}
    for name in ("train", "validation", "test"):
        rows = getattr(spans, name)
        first, last = spans.dates(name)
        out[name] = {
            "start": first.isoformat(),
            "end": last.isoformat(),
            "bars": int(rows[1] - rows[0] + 1),
            "rows": [int(rows[0]), int(rows[1])],
        }
    return out


def _checkpoints(ws: Workspace, spec: RLSpec, seed: int, tag: str = "") -> Any:
    from alphaloop.rl.train import CheckpointDir

    root = ws.root / "rl" / "checkpoints" / spec.name / spec.hash[:16]
    return CheckpointDir(root / f"{tag}seed_{seed}", spec.hash, seed)


def _benchmarks(panel: Any, config: Any, test_rows: tuple[int, int], ppy: float) -> tuple:
    from alphaloop.rl.evaluation import benchmark_returns, episode_metrics

    t0, t1 = test_rows
    market = panel.iloc(slice(t0, t1 + 1))
    sims = benchmark_returns(
        market, costs=config.costs, fills=config.fills, initial_capital=config.initial_capital
    )
    metrics = {
        name: episode_metrics(
            sim.returns,
            periods_per_year=ppy,
            turnover=sim.turnover,
            costs=float(sum(sim.costs.values())),
        )
        for name, sim in sims.items()
    }
    return metrics, {name: sim.equity for name, sim in sims.items()}


def _train_ensemble(ws, spec, panel, config, spans, seed, ppy, progress) -> dict[str, Any]:
    from alphaloop.rl import RLConfigError
    from alphaloop.rl.ensemble import RunChoiceEnv, ensemble_book, market_regimes, regime_runs
    from alphaloop.rl.evaluation import episode_metrics
    from alphaloop.rl.rollout import rollout
    from alphaloop.rl.train import train_seed

    ens = spec.ensemble
    labels = market_regimes(panel, config.assets, ens)
    first, last = spans.train
    runs_by_regime = {
        k: regime_runs(labels, first, last, k, ens.min_run) for k in range(ens.n_regimes)
    }
    eval_rows = (spans.validation[0], spans.test[1])
    rollouts, regimes = [], []
    score = _scorer(config, panel, spec)
    for k, runs in runs_by_regime.items():
        if not runs:
            continue
        one_run = config.model_copy(update={"start": "first", "episode_length": None})
        envs = [_env(one_run, panel, spec, r, evaluation=False, seed=seed) for r in runs]
        run = train_seed(spec, RunChoiceEnv(envs), score, seed,
                         checkpoints=_checkpoints(ws, spec, seed, f"regime_{k}_"),
                         progress=progress, step_name=f"seed {seed}: regime {k} agent")  # fmt: skip
        env = _env(config, panel, spec, eval_rows, evaluation=True)
        rollouts.append(rollout(run.model, env, seed=spec.seed))
        regimes.append(k)
    if not rollouts:
        raise RLConfigError(
            f"no regime has a training run of {ens.min_run} bars or more",
            hint="lower ensemble.min_run or ensemble.min_history, or load more data",
        )
    result, mix = ensemble_book(rollouts, regimes, labels, panel, config, eval_rows,
                                spans.test, ens, ppy)  # fmt: skip
    metrics = episode_metrics(result.returns, periods_per_year=ppy, turnover=result.turnover,
                              costs=float(sum(result.costs.values())))  # fmt: skip
    share = mix.mean(axis=0)
    return {"metrics": metrics, "agents": regimes,
            "mix_share": {int(k): float(s) for k, s in zip(regimes, share, strict=True)},
            "runs": {int(k): len(v) for k, v in runs_by_regime.items()}}  # fmt: skip


def train_rl(
    ws: Workspace,
    spec: RLSpec,
    *,
    progress: Progress | None = None,
    report: Path | str | None = None,
) -> RLTrainResult:
    """Train every seed of ``spec``, evaluate on the test span, register, report."""
    from alphaloop.rl import split_spans
    from alphaloop.rl.evaluation import episode_metrics, seed_summary
    from alphaloop.rl.rollout import rollout
    from alphaloop.rl.train import train_seed

    report_fn = progress or no_progress
    if spec.supersedes is not None:
        ws.models.get(spec.supersedes)
    panel, info, config = _load(ws, spec)
    ppy = _ppy(info)
    spans = split_spans(panel.index, config.validation_fraction, config.test_fraction,
                        config.embargo)  # fmt: skip
    params = {"rl_spec": spec.model_dump(mode="json"), "spec_hash": spec.hash}
    with ws.runs.start("rl-train", params) as run:
        run.data_hashes = {spec.data: info.content_hash}
        per_seed, models, curves, resumed, ensembles = [], {}, {}, [], []
        score = _scorer(config, panel, spec)
        synthetic, augmented = _augmentation(panel, spans, spec)
        for seed in spec.seed_list:
            train_env = _env(
                config, panel, spec, "train", evaluation=False, seed=seed, n_envs=spec.n_envs
            )
            if synthetic:
                train_env = _mixture(train_env, config, synthetic, spec, seed)
            seed_run = train_seed(
                spec, train_env, score, seed, checkpoints=_checkpoints(ws, spec, seed),
                progress=report_fn, step_name=f"seed {seed}: training",
            )  # fmt: skip
            if seed_run.resumed_from:
                resumed.append(f"seed {seed} from step {seed_run.resumed_from:,}")
            test_env = _env(config, panel, spec, "test", evaluation=True)
            test = rollout(seed_run.model, test_env, seed=spec.seed)
            metrics = episode_metrics(test.returns, periods_per_year=ppy,
                                      turnover=test.turnover, costs=test.costs)  # fmt: skip
            per_seed.append({"seed": seed, "timesteps": seed_run.timesteps,
                             "validation_reward": seed_run.validation_score,
                             "metrics": metrics})  # fmt: skip
            models[seed] = seed_run.model
            curves[f"seed {seed}"] = test.equity
            if spec.ensemble is not None:
                ensembles.append(
                    _train_ensemble(ws, spec, panel, config, spans, seed, ppy, report_fn)
                )
        bench, bench_curves = _benchmarks(panel, config, spans.test, ppy)
        curves.update({k.replace("_", " "): v for k, v in bench_curves.items()})
        summary = seed_summary([s["metrics"] for s in per_seed])
        version = _register(ws, spec, info, config, panel, spans, models, summary)
        doc = _doc(spec, info, config, spans, per_seed, summary, bench, run.id, version)
        if ensembles:
            e = spec.ensemble
            doc["ensemble"] = {
                "n_regimes": e.n_regimes, "mode": e.mode, "lookback": e.lookback,
                "per_seed": ensembles,
                "summary": {k: v.to_dict() for k, v in
                            seed_summary([x["metrics"] for x in ensembles]).items()},
            }  # fmt: skip
        doc["resumed"] = resumed
        if augmented is not None:
            doc["augment"] = augmented
        doc = json_safe(doc)
        run.result = {k: doc[k] for k in ("ref", "seeds", "test", "benchmarks")}
    if report is not None:
        from alphaloop.app.rl_report import write_rl_report

        doc["report"] = str(write_rl_report(doc, curves, Path(report)))
    return RLTrainResult(doc, curves)


def _doc(spec, info, config, spans, per_seed, summary, bench, run_id, version) -> dict:
    caveats = [
        f"results across {len(per_seed)} seeds: the mean and its interval, never the best "
        "seed; the policy kept for each seed was chosen on the validation span only",
        "costs on in training and evaluation: " + _costs_note(config),
    ]
    if info.bundled or spec.data.startswith("sp500"):
        caveats.append(CAVEAT_SURVIVORS)
    if config.fills == "same_close":
        caveats.append("OPTIMISTIC fills at the close the decision saw (same_close)")
    return {
        "name": spec.name,
        "ref": version.ref,
        "run_id": run_id,
        "algorithm": spec.algorithm,
        "data": f"{info.name} v{info.version}",
        "seeds": list(spec.seed_list),
        "timesteps": spec.timesteps,
        "spans": _span_doc(spans),
        "test": {"per_seed": per_seed, "summary": {k: v.to_dict() for k, v in summary.items()}},
        "benchmarks": bench,
        "fills": str(getattr(config.fills, "value", config.fills)),
        "costs_note": _costs_note(config),
        "caveats": caveats,
    }


def _costs_note(config: Any) -> str:
    c = config.costs
    return (
        f"half spread {c.half_spread_bps:g} bps, slippage {c.slippage_bps:g} bps, fees "
        f"{c.exchange_fee_bps:g} bps, commission {c.commission_per_share:g}/share, "
        f"impact {c.impact}"
    )


def _register(ws, spec, info, config, panel, spans, models, summary) -> Any:
    from alphaloop.rl import TradingEnv
    from alphaloop.rl.policy import save_policy
    from alphaloop.rl.rollout import evaluation_config

    names = TradingEnv(evaluation_config(config, "train"), panel).observation_names
    features = {}
    if config.features is not None and not isinstance(config.features, str):
        items = (
            config.features.items()
            if isinstance(config.features, dict)
            else enumerate(config.features)
        )
        features = {f"f{k}" if isinstance(k, int) else k: v for k, v in items}
    staging = Path(tempfile.mkdtemp(prefix="alphaloop-rl-"))
    try:
        artifact = save_policy(staging / "artifact", spec, config, models, config.assets, features)
        index = panel.index
        metrics = {f"test_{k}_mean": v.mean for k, v in summary.items()}
        metrics.update({f"test_{k}_std": v.std for k, v in summary.items()})
        return ws.models.register(
            spec.name, artifact, features=names,
            label={"target": "rl_policy", "reward": config.reward,
                   "fills": str(getattr(config.fills, "value", config.fills))},
            dataset=spec.data, dataset_version=info.version, dataset_hash=info.content_hash,
            train_start=index[spans.train[0]].to_pydatetime(),
            train_end=index[spans.train[1]].to_pydatetime(),
            label_end=index[spans.validation[1]].to_pydatetime(),
            seed=spec.seed_list[0], metrics=metrics,
            params={"algorithm": spec.algorithm, "hyperparameters": spec.hyperparameters,
                    "seeds": list(spec.seed_list), "timesteps": spec.timesteps,
                    "spec_hash": spec.hash,
                    "augment": None if spec.augment is None
                    else spec.augment.model_dump(mode="json")},
            family="rl", task="policy", feature_family="rl-observation",
            supersedes=spec.supersedes, note=spec.note,
        )  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def rl_signal(ws: Workspace, version: Any, panel: Any) -> np.ndarray:
    """The registered policy's signal on ``panel``: the seeds' mean target weight of each
    asset at each bar (decided after that bar's close; NaN before the first decision)."""
    from alphaloop.rl.policy import load_policy, policy_weights

    ws.models.verify(version)
    bundle = ws.models.load(version.ref, loader=load_policy)
    return policy_weights(bundle, panel)


def _train_env(config: Any, panel: Any, spec: RLSpec, seed: int) -> Any:
    """A training environment (module level, so a trial shipped to a worker pickles)."""
    return _env(config, panel, spec, "train", evaluation=False, seed=seed, n_envs=spec.n_envs)


def tune_rl(
    ws: Workspace,
    spec: RLSpec,
    *,
    trials: int,
    seed: int = 0,
    progress: Progress | None = None,
    executor: str = "local",
    workers: int = 1,
    concurrent: int = 1,
) -> RLTuneResult:
    """Optuna search on the validation span; records an ``rl-tune`` run with the trial count.

    ``executor`` (``local`` or ``ray``, at the settings' ``ray_address``) and
    ``workers`` say where trials train; ``concurrent`` trials are asked per
    round. The result depends on ``seed`` and ``concurrent``, not on where
    the trials ran.
    """
    from functools import partial

    from alphaloop.rl.tuning import tune

    panel, info, config = _load(ws, spec)
    params = {
        "rl_spec": spec.model_dump(mode="json"),
        "trials": trials,
        "seed": seed,
        "concurrent": concurrent,
    }
    with ws.runs.start("rl-tune", params) as run:
        run.data_hashes = {spec.data: info.content_hash}
        result = tune(
            spec,
            partial(_train_env, config, panel, spec),
            partial(_scorer, config, panel, spec),
            trials=trials,
            seed=seed,
            progress=progress,
            executor=executor,
            workers=workers,
            address=ws.settings.ray_address if executor == "ray" else None,
            concurrent=concurrent,
        )
        doc = json_safe({**result.to_dict(), "run_id": run.id, "data": spec.data})
        run.result = {k: doc[k] for k in ("n_trials", "n_failed", "best_value", "best_params")}
    return RLTuneResult(doc)
