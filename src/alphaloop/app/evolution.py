"""Use case: evolve a population of specialists on a dataset's research span.

The evolution is :mod:`alphaloop.live.evolution`'s; this module reads the dataset
through the workspace catalog (which stops every load at the sealed holdout),
records every evaluated genome in the strategy database as a trial of the dataset
(origin ``research``, one evaluation under an ``evolution-...`` protocol, the
parentage of children), and reports the survivors deflated for the dataset's
trials beside their validation tail. Ctrl-C ends the evolution after the current
generation; the report then covers what was done.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alphaloop.live.evolution import Evaluation, Evolution, EvolutionConfig, Generation
from alphaloop.live.evolution_report import Survivor

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.data.catalog import DatasetInfo

__all__ = ["EvolutionReport", "evolve_dataset", "stop_on_interrupt"]


@dataclass(frozen=True)
class EvolutionReport:
    """An evolution on one dataset, its survivors and what to keep in mind."""

    data: str
    dataset_version: int
    protocol: str
    evolution: Evolution
    survivors: list[Survivor]
    n_trials: int
    dataset_trials: int | None
    holdout_from: str | None
    caveats: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: spans, settings, generations, trials, survivors, caveats."""
        ev = self.evolution
        return {
            "data": self.data,
            "dataset_version": self.dataset_version,
            "protocol": self.protocol,
            "status": ev.stopped,
            "config": ev.config.to_dict(),
            "search_span": {"start": str(ev.search_start), "end": str(ev.search_end)},
            "validation_tail": {"start": str(ev.tail_start), "end": str(ev.tail_end)},
            "holdout_from": self.holdout_from,
            "generations": [g.to_dict() for g in ev.generations],
            "n_generations": len(ev.generations),
            "n_evaluations": ev.n_evaluations,
            "n_trials": self.n_trials,
            "dataset_trials": self.dataset_trials,
            "survivors": [s.to_dict() for s in self.survivors],
            "caveats": list(self.caveats),
        }


class _StopFlag:
    def __init__(self) -> None:
        self.set = False

    def __call__(self) -> bool:
        return self.set


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """A ``should_stop`` callable that turns True at the first Ctrl-C (SIGINT).

    The first Ctrl-C only asks the evolution to stop after its current generation;
    the handler before it is back in place at once, so a second Ctrl-C interrupts
    as usual. Off the main thread no handler is installed (never stops).
    """
    flag = _StopFlag()
    previous: Any = None

    def handle(signum: int, frame: object) -> None:
        flag.set = True
        signal.signal(signal.SIGINT, previous)

    try:
        previous = signal.signal(signal.SIGINT, handle)
    except ValueError:  # not the main thread
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _protocol(info: DatasetInfo, ev_search_end: Any, config: EvolutionConfig) -> str:
    """``evolution-`` and 16 hex digits naming the data version and the search span."""
    body = {
        "data": info.name,
        "version": info.version,
        "data_hash": info.content_hash,
        "search_end": str(ev_search_end),
        "validation_fraction": config.validation_fraction,
        "fitness": "annualised sharpe, search span",
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f"evolution-{digest[:16]}"


def _recorder(
    ws: Workspace, info: DatasetInfo, config: EvolutionConfig, protocol: str
) -> Callable[[Generation, list[Evaluation]], None]:
    from alphaloop import __version__
    from alphaloop.research.strategy_records import EvaluationRecord, Parentage, spec_kind

    db = ws.strategies

    def record(gen: Generation, new: list[Evaluation]) -> None:
        for e in new:
            spec = e.specialist.spec
            parentage = None
            if e.parents:
                second = e.parents[1] if len(e.parents) > 1 else None
                flags = {"crossover": "crossover" in e.operator, "new_parameter": True}
                parentage = Parentage(e.parents[0], second, e.operator, flags)
            db.record_strategy(
                spec,
                kind=spec_kind(spec),
                family=e.genome.template,
                origin="research",
                parentage=parentage,
            )
            metrics = dict(e.metrics)
            if e.fitness is not None:
                ppy = float(metrics.get("periods_per_year", 252.0))
                metrics["sharpe_per_period"] = e.fitness / math.sqrt(ppy)
            db.record_evaluation(
                EvaluationRecord(
                    strategy_hash=spec.hash,
                    protocol=protocol,
                    status="ok" if e.fitness is not None else "failed",
                    reason=e.error,
                    sharpe=e.fitness,
                    metrics=metrics,
                    folds=[],
                    lookahead={},
                    validation=None,
                    passed=None,
                    returns=e.returns.to_numpy() if e.returns is not None else None,
                    provenance={
                        "data_hash": info.content_hash,
                        "code_version": __version__,
                        "seed": config.seed,
                        "engine": "vectorized",
                        "generation": gen.index,
                        "operator": e.operator,
                    },
                    session_id=None,
                )
            )

    return record


def evolve_dataset(
    ws: Workspace,
    data: str,
    config: EvolutionConfig | None = None,
    *,
    record: bool = True,
    should_stop: Callable[[], bool] | None = None,
    on_generation: Callable[[Generation, list[Evaluation]], None] | None = None,
) -> EvolutionReport:
    """Evolve specialists on dataset ``data`` and report the survivors.

    Parameters
    ----------
    ws : Workspace
    data : str
        Dataset name (needs closes).
    config : EvolutionConfig, optional
    record : bool, default True
        Record every evaluated genome as a trial in the strategy database (the
        survivors are then deflated for the dataset's trial count, when larger).
    should_stop : callable, optional
        Asked after each generation (see :func:`stop_on_interrupt`).
    on_generation : callable, optional
        Called after each generation (after its trials are recorded).

    Raises
    ------
    EvolutionError
        Bad settings, a dataset without closes, styles the data cannot trade, too
        few bars.
    DatasetNotFoundError
        No dataset of that name.
    """
    from alphaloop.errors import note_recorded_interruption
    from alphaloop.live.evolution import EvolutionError, evolve, split_spans
    from alphaloop.live.evolution_report import assess_survivors

    cfg = (config or EvolutionConfig()).check()
    info = ws.data.info(data)
    if "close" not in info.fields:
        raise EvolutionError(
            f"dataset {data!r} has no close field; specialists trade on closes",
            hint=f"fields: {', '.join(info.fields)}",
        )
    panel = ws.data.load(data)
    cut = split_spans(panel, cfg.validation_fraction)
    protocol = _protocol(info, panel.index[cut - 1], cfg)
    hooks: list[Callable[[Generation, list[Evaluation]], None]] = []
    if record:
        hooks.append(_recorder(ws, info, cfg, protocol))
    if on_generation is not None:
        hooks.append(on_generation)

    def each(gen: Generation, new: list[Evaluation]) -> None:
        for hook in hooks:
            hook(gen, new)

    done: list[int] = []
    hooks.append(lambda gen, new: done.append(len(new)))
    try:
        ev = evolve(data, panel, info, cfg, should_stop=should_stop, on_generation=each)
    except KeyboardInterrupt as exc:  # a second Ctrl-C: the generations done are recorded
        if record and sum(done):
            note_recorded_interruption(exc, f"{sum(done)} evaluated specialists (trials of {data})")
        raise
    dataset_trials = ws.strategies.n_trials(data) if record else None
    survivors, n_trials = assess_survivors(ev, data, panel, info, n_trials=dataset_trials)
    caveats = list(info.caveats)
    holdout = None
    if panel.sealed_end is not None:
        holdout = f"{panel.sealed_end.boundary:%Y-%m-%d}"
        caveats.append(f"the sealed holdout from {holdout} is not read")
    caveats.append(
        "search Sharpe ratios are selected maxima: read them through the DSR "
        f"({n_trials} trials); the validation tail was never seen by the search"
    )
    if ev.stopped == "interrupted":
        caveats.append(f"interrupted after generation {len(ev.generations)} of {cfg.generations}")
    return EvolutionReport(
        data=data,
        dataset_version=info.version,
        protocol=protocol,
        evolution=ev,
        survivors=survivors,
        n_trials=n_trials,
        dataset_trials=dataset_trials,
        holdout_from=holdout,
        caveats=tuple(caveats),
    )
