"""Use case: run the live loop over a replayed dataset (``alphaloop run --config live.yaml``).

Builds the loop's parts from the workspace (the dataset read up to the sealed
holdout, specialists backtested as sleeves, the meta controller with the audit and
policy sinks, the lifecycle and policy stores, the kill switch, the bus, the
learning manager) and runs :class:`~alphaloop.live.loop.LiveLoop`. Paper only: no
order reaches a venue.

A run is known by its configuration's name and resumes: each bar commits with a
checkpoint (:mod:`alphaloop.live.loop_state`), and a run started again after a
crash or ``kill -9`` carries on from the bar after the last checkpoint. Before it
does, it reconciles: strategies whose lifecycle state changed in the store while
the loop was down (a person demoted one) take the store's state, audited as
``loop.reconciled``; model artifact directories that no registry row owns (a
model version registered in a bar that never committed) are removed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from alphaloop.app.workspace import Workspace
from alphaloop.errors import ConfigError
from alphaloop.live.loop import LiveLoop, LoopResult
from alphaloop.live.loop_config import LoopConfig
from alphaloop.live.sleeve import Sleeve, sleeve_sharpe

__all__ = ["load_loop_config", "run_loop"]


def load_loop_config(path: str | Path) -> LoopConfig:
    """Read and check a loop configuration file (YAML or JSON); errors name the field."""
    from alphaloop.specfile import load_spec_file

    return load_spec_file(Path(path), LoopConfig, "loop configuration")


def _build(cls: Any, settings: dict[str, Any], where: str) -> Any:
    """``cls(**settings)`` with an unknown setting named as a configuration error."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown settings {unknown}", hint=f"known: {', '.join(sorted(known))}"
        )
    return cls(**settings)


def _bus(config: LoopConfig) -> Any:
    if config.bus.backend == "redis":
        from alphaloop.live.bus.redis_streams import RedisBus

        return RedisBus(config.bus.url, prefix=config.bus.prefix)
    from alphaloop.live.bus.memory import InProcessBus

    return InProcessBus()


def _learner(ws: Workspace, config: LoopConfig, *, tag: str | None = None) -> Any:
    """The loop's :class:`~alphaloop.app.loop_learner.LoopLearner`, or None without a
    ``learning`` section; ``tag`` marks its staged artifacts (default: the run's)."""
    if config.learning is None:
        return None
    from alphaloop.app.loop_learner import LoopLearner, staging_tag
    from alphaloop.live.learning import LearningPolicy

    settings = config.learning
    policy = _build(LearningPolicy, settings.policy, "learning.policy")
    ws.models.list(name=settings.model)  # fails early on a bad name
    return LoopLearner(ws, settings.model, policy, actor="live-loop",
                       tag=tag or staging_tag(config.name))  # fmt: skip


def _drop_orphan_artifacts(ws: Workspace, name: str, tag: str = "") -> list[str]:
    """Remove artifact directories of model ``name`` above its highest registered version
    (left by a registration whose transaction never committed) and the staging
    directories marked ``tag`` (a model trained for a bar that never committed);
    returns their paths."""
    import re
    import shutil

    staged = ws.models.drop_staged(tag) if tag else []
    root = ws.models.models_dir / name
    if not root.is_dir():
        return staged
    top = max((v.version for v in ws.models.list(name=name)), default=0)
    gone = []
    for d in sorted(root.iterdir()):
        m = re.fullmatch(r"v(\d+)", d.name)
        if m and int(m.group(1)) > top and d.is_dir():
            for p in [d, *d.rglob("*")]:
                if p.is_dir():
                    p.chmod(0o755)
            shutil.rmtree(d)
            gone.append(str(d))
    return [*gone, *staged]


def _checkpoint(ws: Workspace, config: LoopConfig, restart: bool) -> tuple[Any, Any, int]:
    """(checkpoints, the checkpoint to resume or None, epoch) for ``config``'s run."""
    from alphaloop.live.loop_state import LoopCheckpoints, config_hash

    checkpoints = LoopCheckpoints(ws.db)
    cp = checkpoints.get(config.name)
    if cp is None:
        return checkpoints, None, 0
    if restart:
        return checkpoints, None, cp.epoch + 1
    if cp.config_hash != config_hash(config):
        raise ConfigError(
            f"run {config.name!r} has a checkpoint after {cp.bars_done} bars "
            f"(last {cp.last_bar or 'none'}) made with another configuration",
            hint="resume with the same file, give the run another name, or start it over "
            "with --restart",
        )
    return checkpoints, cp, cp.epoch


def _reconcile(ws: Workspace, sleeves: list[Sleeve], audit: Any, config: LoopConfig, cp: Any,
               row: int, *, learning: bool = True) -> None:  # fmt: skip
    """Sleeves take the lifecycle store's state where it differs from the checkpoint's;
    a loop that learns removes the artifacts its unfinished bars left (one that does
    not leaves them to the learning role, which may be registering one now)."""
    if config.learning is not None and learning:
        from alphaloop.app.loop_learner import staging_tag

        gone = _drop_orphan_artifacts(ws, config.learning.model, staging_tag(config.name))
        if gone:
            audit.append("live-loop", "loop.reconciled", config.name,
                         {"removed_artifacts": gone})  # fmt: skip
    stored = cp.state.get("sleeves", {})
    for s in sleeves:
        mine = stored.get(s.name, {}).get("state")
        if mine is not None and mine != s.state.value:
            what = {"strategy": s.name, "checkpoint": mine, "store": s.state.value}
            audit.append("live-loop", "loop.reconciled", config.name, what)
            # the store wins; the sleeve's account starts again at the next bar
            stored[s.name] = {"state": s.state.value, "entered": row, "equity": 1.0,
                              "peak": 1.0, "history": []}  # fmt: skip


def run_loop(
    ws: Workspace,
    config: LoopConfig,
    *,
    on_bar: Callable[[int, pd.Timestamp], None] | None = None,
    restart: bool = False,
    learning: bool = True,
) -> LoopResult:
    """Run the loop of ``config`` in ``ws``, or resume it after its last checkpoint.

    ``restart=True`` starts the run over from ``config.start`` (a new epoch: its
    events get new ids) instead of resuming it. ``learning=False`` leaves the
    learning cycles to a learning manager of its own
    (:func:`alphaloop.app.run_learning.run_learning_role`).

    Raises
    ------
    ConfigError
        A start outside the readable data, too little history before it, no style
        the data supports, a learning model without a production version, a
        checkpoint of the same name made with another configuration.
    """
    from alphaloop.app.governance import governance
    from alphaloop.app.policy import policy_store
    from alphaloop.execution.audit_log import AuditLog
    from alphaloop.live.controller import (
        ControllerConfig,
        MetaController,
        audit_sink,
        fan_out,
        policy_sink,
    )
    from alphaloop.live.lifecycle_store import LifecycleStore
    from alphaloop.live.loop_state import config_hash
    from alphaloop.live.specialists import run_specialists, standard_specialists

    checkpoints, resume, epoch = _checkpoint(ws, config, restart)
    info = ws.data.info(config.data)
    panel = ws.data.load(config.data)
    start = pd.Timestamp(config.start, tz="UTC")
    start_row = int(panel.index.searchsorted(start))
    end_row = panel.n_times - 1
    if config.end is not None:
        end_row = int(panel.index.searchsorted(pd.Timestamp(config.end, tz="UTC"), "right")) - 1
    if start_row >= panel.n_times or end_row <= start_row:
        raise ConfigError(
            f"start {config.start} to end {config.end or 'the end'} holds no bars of "
            f"{config.data!r} readable here ({panel.index[0]:%Y-%m-%d} to "
            f"{panel.index[-1]:%Y-%m-%d}, the sealed holdout excluded)"
        )
    if start_row < config.lifecycle.entry_bars:
        raise ConfigError(
            f"start {config.start}: {start_row} bars of history before it, the entry gate "
            f"reads {config.lifecycle.entry_bars}"
        )
    panel = panel.iloc(slice(0, end_row + 1))
    made, skipped = standard_specialists(
        config.data, panel, styles=config.styles, sentiment_signal=config.sentiment_signal
    )
    if not made:
        raise ConfigError(f"no style of {config.styles} can trade {config.data!r}: {skipped}")
    books = run_specialists(made, info, panel)
    sleeves = []
    for sp in made:
        r = books[sp.name].returns
        pre = r[(r.index < panel.index[start_row])].iloc[-config.lifecycle.entry_bars :]
        sleeves.append(Sleeve(sp.name, sp.spec.hash, r, sleeve_sharpe(pre.to_numpy())))
    audit = AuditLog(ws.db)
    policy = policy_store(ws)
    lifecycle = LifecycleStore(ws.db, audit)
    for s in sleeves:
        s.state = lifecycle.get(s.strategy_hash).state
    if resume is not None:
        _reconcile(ws, sleeves, audit, config, resume, start_row + resume.bars_done,
                   learning=learning)  # fmt: skip
    kills = governance(ws).kill_switch

    def killed() -> str | None:
        active = kills.active()
        return "; ".join(k.reason for k in active) if active else None

    mode = policy.current(refresh=True).mode.value.upper()
    controller = MetaController(
        _build(ControllerConfig, config.controller, "controller"),
        mode=mode,
        sink=fan_out(audit_sink(audit), policy_sink(policy)),
    )
    bus = _bus(config)
    try:
        loop = LiveLoop(
            config, panel, sleeves, start_row, end_row, controller=controller,
            lifecycle=lifecycle, policy=policy, audit=audit, bus=bus, killed=killed,
            learner=_learner(ws, config) if learning else None, on_bar=on_bar, unit=ws.db.atomic,
            checkpoints=checkpoints, resume=resume, config_hash=config_hash(config), epoch=epoch,
        )  # fmt: skip
        return loop.run()
    finally:
        close = getattr(bus, "close", None)
        if close is not None:
            close()
