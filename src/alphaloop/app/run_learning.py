"""Use case: the loop's learning manager as a process of its own (``--role learning``).

``alphaloop run --config live.yaml --role loop`` runs the loop without its
learning hook; ``--role learning`` runs the learning manager as a consumer of the
loop's bars on the Redis bus (group ``<name>.learning``, its offset stored in
Redis). At every ``learning.every``-th bar after the start it runs a learning
cycle, exactly as the loop would, in **one database transaction** with its
checkpoint (``<name>.learning`` in ``loop_checkpoints``: the last bar it learned
at and every cycle's record); the cycle's events are published, with ids
derived from run, bar and position, before that transaction commits.

Killed at any instant, it restarts from its stored offset: bars up to its
checkpoint are skipped (a re-delivered bar is not learned at twice), a bar whose
transaction never committed is learned at again, and a re-published event is
dropped by the bus as a duplicate. It stops after the loop's last bar, or when the
loop halts (a critical alert from the loop).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from alphaloop.app.workspace import Workspace
from alphaloop.errors import ConfigError
from alphaloop.live.loop_config import LoopConfig

__all__ = ["LearningRun", "run_learning_role"]

GROUP_SUFFIX = ".learning"


class LearningRun(dict[str, Any]):
    """What the learning role did: ``cycles`` (records, oldest first), ``last_bar``,
    ``resumed_at`` (cycles already done when it started, or None)."""


def _span(ws: Workspace, config: LoopConfig) -> pd.DatetimeIndex:
    """The bars the loop runs (the dataset's readable index from start to end)."""
    index = ws.data.load(config.data).index
    start = int(index.searchsorted(pd.Timestamp(config.start, tz="UTC")))
    end = len(index) - 1
    if config.end is not None:
        end = int(index.searchsorted(pd.Timestamp(config.end, tz="UTC"), "right")) - 1
    if start >= len(index) or end <= start:
        raise ConfigError(f"start {config.start} to end {config.end} holds no bars of "
                          f"{config.data!r} readable here")  # fmt: skip
    return index[start : end + 1]


def run_learning_role(ws: Workspace, config: LoopConfig, *, block_ms: int = 500) -> LearningRun:
    """Consume the loop's bars and run its learning cycles (see the module docstring).

    Raises
    ------
    ConfigError
        No ``learning`` section, or a bus that is not Redis (the roles meet on it).
    """
    from alphaloop.app.run_loop import _bus, _drop_orphan_artifacts, _learner
    from alphaloop.live.loop_state import Checkpoint, LoopCheckpoints, config_hash, event_id

    if config.learning is None:
        raise ConfigError(f"{config.name}: the learning role needs a 'learning' section")
    if config.bus.backend != "redis":
        raise ConfigError(
            f"{config.name}: the loop's roles meet on the bus, and bus.backend is "
            f"{config.bus.backend!r}",
            hint="set bus: {backend: redis} to run the roles as separate processes",
        )
    learn = _learner(ws, config)
    assert learn is not None
    _drop_orphan_artifacts(ws, config.learning.model)
    bars = _span(ws, config)
    row_of = {ts.value: k for k, ts in enumerate(bars)}
    name, every, digest = config.name + GROUP_SUFFIX, config.learning.every, config_hash(config)
    checkpoints = LoopCheckpoints(ws.db)
    cp = checkpoints.get(name)
    if cp is not None and cp.config_hash != digest:
        raise ConfigError(f"{name}: a checkpoint made with another configuration",
                          hint="use the same file or another run name")  # fmt: skip
    done = cp.bars_done if cp is not None else 0
    cycles: list[dict[str, Any]] = list(cp.state.get("cycles", [])) if cp is not None else []
    resumed = len(cycles) if cp is not None else None
    finished = {"flag": cp is not None and cp.status in ("finished", "halted")}
    bus = _bus(config)

    def handle(event: Any) -> None:
        nonlocal done
        if finished["flag"]:
            return

        def save(k: int, status: str, state: list[dict[str, Any]]) -> None:
            checkpoints.save(
                Checkpoint(name, digest, 0, k + 1, bars[k].isoformat(), status, {"cycles": state})
            )  # type: ignore[arg-type]

        if event.type == "alert":
            if event.source == "live-loop" and event.payload.severity == "critical":
                save(max(done - 1, 0), "halted", cycles)
                finished["flag"] = True
            return
        k = row_of.get(pd.Timestamp(event.payload.end).value)
        if k is None or k < done:  # not the loop's bar, or learned at already
            return
        last = k == len(bars) - 1
        if k > 0 and k % every == 0:
            ts = bars[k]
            with ws.db.atomic():
                events, record = learn(ts)
                events = [e.model_copy(update={"id": event_id(config.name, 0, ts.value,
                                                              "learning", str(i))})
                          for i, e in enumerate(events)]  # fmt: skip
                if events:
                    bus.publish_many(events)
                save(k, "finished" if last else "running", [*cycles, record])
            cycles.append(record)
            done = k + 1
        elif last:
            save(k, "finished", cycles)
        if last:
            finished["flag"] = True

    try:
        consumer = bus.subscribe("events", name, handle, types={"bar", "alert"})
        consumer.run(stop=lambda: finished["flag"], block_ms=block_ms)
    finally:
        bus.close()
    return LearningRun(cycles=cycles, last_bar=str(bars[-1].date()), resumed_at=resumed)
