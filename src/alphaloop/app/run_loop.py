"""Use case: run the live loop over a replayed dataset (``alphaloop run --config live.yaml``).

Builds the loop's parts from the workspace (the dataset read up to the sealed
holdout, specialists backtested as sleeves, the meta controller with the audit and
policy sinks, the lifecycle and policy stores, the kill switch, the bus, the
learning manager) and runs :class:`~alphaloop.live.loop.LiveLoop`. Paper only: no
order reaches a venue.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from alphaloop.app.workspace import Workspace
from alphaloop.errors import ConfigError
from alphaloop.live.loop import LiveLoop, LoopResult, Sleeve, _sharpe
from alphaloop.live.loop_config import LoopConfig

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


def _learner(ws: Workspace, config: LoopConfig) -> Callable[[pd.Timestamp], Any] | None:
    if config.learning is None:
        return None
    from alphaloop.app.learning import learning_cycle
    from alphaloop.live.bus.catalog import ModelRelease, ModelReleased
    from alphaloop.live.learning import LearningPolicy

    settings = config.learning
    policy = _build(LearningPolicy, settings.policy, "learning.policy")
    ws.models.list(name=settings.model)  # fails early on a bad name

    def learn(at: pd.Timestamp) -> tuple[list[Any], dict[str, Any]]:
        cycle = learning_cycle(ws, settings.model, as_of=at, policy=policy, actor="live-loop")
        events = []
        if cycle.action == "promoted" and cycle.candidate:
            new = ws.models.get(cycle.candidate)
            old = ws.models.get(cycle.incumbent)
            events.append(ModelReleased(payload=ModelRelease(
                model=new.name, version=new.version, previous=old.version,
                reason="; ".join(cycle.promotion.reasons if cycle.promotion else ())),
                source="live-loop"))  # fmt: skip
        record = {"at": str(at.date()), "action": cycle.action, "incumbent": cycle.incumbent,
                  "candidate": cycle.candidate}  # fmt: skip
        if cycle.retrain is not None:
            record["reasons"] = list(cycle.retrain.reasons)
        return events, record

    return learn


def run_loop(
    ws: Workspace,
    config: LoopConfig,
    *,
    on_bar: Callable[[int, pd.Timestamp], None] | None = None,
) -> LoopResult:
    """Run the loop of ``config`` in ``ws``.

    Raises
    ------
    ConfigError
        A start outside the readable data, too little history before it, no style
        the data supports, a learning model without a production version.
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
    from alphaloop.live.specialists import run_specialists, standard_specialists

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
        sleeves.append(Sleeve(sp.name, sp.spec.hash, r, _sharpe(pre.to_numpy())))
    audit = AuditLog(ws.db)
    policy = policy_store(ws)
    lifecycle = LifecycleStore(ws.db, audit)
    for s in sleeves:
        s.state = lifecycle.get(s.strategy_hash).state
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
            learn=_learner(ws, config), on_bar=on_bar,
        )  # fmt: skip
        return loop.run()
    finally:
        close = getattr(bus, "close", None)
        if close is not None:
            close()
