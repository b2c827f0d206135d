"""Genetic evolution of specialists: determinism, trials, spans, elitism, operators, bad input."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

import alphaloop.live.evolution as evolution_module
import alphaloop.live.evolution_report as report_module
from alphaloop.app import Workspace
from alphaloop.app.evolution import evolve_dataset, stop_on_interrupt
from alphaloop.data.panel import Panel
from alphaloop.live.evolution import (
    Evolution,
    EvolutionConfig,
    EvolutionError,
    evolve,
    split_spans,
)
from alphaloop.live.evolution_report import assess_survivors, verdict
from alphaloop.strategies import TEMPLATES

DATA = "sp500-stocks"
CFG = EvolutionConfig(population=6, generations=3, seed=7)


@pytest.fixture(scope="module")
def market(shared_workspace: Workspace) -> tuple[Panel, object]:
    ws = shared_workspace
    panel = ws.data.load(DATA).slice("2005-01-01", "2008-12-31")
    return panel, ws.data.info(DATA)


@pytest.fixture(scope="module")
def run(market: tuple[Panel, object]) -> Evolution:
    panel, info = market
    return evolve(DATA, panel, info, CFG)


def _history(ev: Evolution) -> list[tuple[tuple[str, ...], list[float | None]]]:
    return [(g.members, [ev.evaluations[h].fitness for h in g.members]) for g in ev.generations]


def test_same_seed_same_populations_bit_for_bit(market, run: Evolution) -> None:
    panel, info = market
    again = evolve(DATA, panel, info, CFG)
    assert _history(again) == _history(run)  # fitness compared with ==, not approx
    for h, e in run.evaluations.items():
        np.testing.assert_array_equal(e.returns.to_numpy(), again.evaluations[h].returns.to_numpy())
    other = evolve(DATA, panel, info, EvolutionConfig(population=6, generations=2, seed=8))
    assert _history(other)[1][0] != _history(run)[1][0]


def test_trials_are_the_distinct_evaluations(market, monkeypatch) -> None:
    panel, info = market
    calls: list[str] = []
    real = evolution_module.run_specialists

    def spy(specialists, info_, panel_):
        calls.extend(sp.spec.hash for sp in specialists)
        return real(specialists, info_, panel_)

    monkeypatch.setattr(evolution_module, "run_specialists", spy)
    ev = evolve(DATA, panel, info, CFG)
    assert len(calls) == len(set(calls)) == ev.n_evaluations  # each spec hash backtested once
    assert sum(g.new_evaluations for g in ev.generations) == ev.n_evaluations
    members = [h for g in ev.generations for h in g.members]
    assert len(members) > ev.n_evaluations  # duplicates across generations were not re-run
    assert set(members) == set(ev.evaluations)
    survivors, n_trials = assess_survivors(ev, DATA, panel, info)
    assert n_trials == ev.n_evaluations
    assert survivors[0].search["dsr"] is not None
    _, more = assess_survivors(ev, DATA, panel, info, n_trials=500)
    assert more == 500
    _, never_fewer = assess_survivors(ev, DATA, panel, info, n_trials=1)
    assert never_fewer == ev.n_evaluations


def test_validation_tail_never_changes_selection(market, run: Evolution) -> None:
    panel, info = market
    cut = split_spans(panel, CFG.validation_fraction)
    close = panel["close"].copy()
    rng = np.random.default_rng(0)
    shock = np.cumprod(1 + rng.normal(0.0, 0.03, (panel.n_times - cut, panel.n_assets)), axis=0)
    close[cut:] = close[cut - 1] * shock  # a different future after the search span
    other = Panel(panel.index, panel.assets, {"close": close})
    ev2 = evolve(DATA, other, info, CFG)
    assert _history(ev2) == _history(run)
    assert run.search_end < run.tail_start
    first, _ = assess_survivors(run, DATA, panel, info)
    second, _ = assess_survivors(ev2, DATA, other, info)
    assert [s.label for s in first] == [s.label for s in second]
    assert [s.search["sharpe"] for s in first] == [s.search["sharpe"] for s in second]
    assert [s.tail["sharpe"] for s in first] != [s.tail["sharpe"] for s in second]


def test_elite_fitness_never_falls(run: Evolution) -> None:
    best = [g.best for g in run.generations]
    assert best == sorted(best)
    for before, after in zip(run.generations, run.generations[1:], strict=False):
        top = run.ranked(before.members)[: CFG.elite]
        assert {e.spec_hash for e in top} <= set(after.members)


def test_children_come_from_the_grid_operators(run: Evolution) -> None:
    for e in run.evaluations.values():
        grid = TEMPLATES[e.genome.template].GRID
        for k, v in e.genome.params:
            assert v in grid[k] or e.operator == "standard"
        if e.operator in ("mutation", "crossover"):
            parents = [dict(run.evaluations[h].genome.params) for h in e.parents]
            child = dict(e.genome.params)
            if e.operator == "mutation":
                changed = [k for k in child if child[k] != parents[0][k]]
                assert len(changed) <= 1
            else:
                assert all(child[k] in (parents[0][k], parents[1][k]) for k in child)
    operators = {e.operator for e in run.evaluations.values()}
    assert {"standard", "random"} <= operators
    assert operators & {"mutation", "crossover", "crossover+mutation"}


def test_should_stop_ends_after_the_current_generation(market) -> None:
    panel, info = market
    ev = evolve(DATA, panel, info, CFG, should_stop=lambda: True)
    assert ev.stopped == "interrupted"
    assert len(ev.generations) == 1
    assert ev.n_evaluations == CFG.population


def test_holdout_never_read_and_trials_recorded(tmp_path: Path, monkeypatch) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.data.ensure_bundled()
    ws.data.configure_holdout("vix", 0.3)
    boundary = ws.data.holdout_boundary("vix")
    seen: list[object] = []
    for module in (evolution_module, report_module):
        real = module.run_specialists

        def spy(specialists, info_, panel_, real=real):
            seen.append(panel_.index[-1])
            return real(specialists, info_, panel_)

        monkeypatch.setattr(module, "run_specialists", spy)
    sent: list[int] = []

    def interrupt_once(gen, new) -> None:
        if not sent:
            sent.append(gen.index)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the first generation ends

    config = EvolutionConfig(population=5, generations=4, seed=1, survivors=3)
    with stop_on_interrupt() as should_stop:
        report = evolve_dataset(
            ws, "vix", config, should_stop=should_stop, on_generation=interrupt_once
        )
    ev = report.evolution
    assert ev.stopped == "interrupted"
    assert len(ev.generations) == 1
    assert max(seen) < boundary  # nothing past the seal was ever backtested
    assert ev.tail_end < boundary
    assert report.holdout_from == f"{boundary:%Y-%m-%d}"
    assert ws.strategies.n_trials("vix") == ev.n_evaluations == report.n_trials
    stored = ws.strategies.evaluation(next(iter(ev.evaluations)), report.protocol)
    assert stored is not None
    assert stored.status == "ok"
    doc = report.to_dict()
    assert doc["status"] == "interrupted"
    assert len(doc["survivors"]) == 3
    again = evolve_dataset(ws, "vix", config)  # same seed: the same specs, no new trials
    assert ws.strategies.n_trials("vix") == again.evolution.n_evaluations
    ws.close()


def test_verdicts() -> None:
    assert verdict(1.0, 0.6) == "holds"
    assert verdict(1.0, 0.2) == "weakens"
    assert verdict(1.0, -0.1) == "collapses"
    assert verdict(-0.2, 0.5) == "no edge"
    assert verdict(None, None) == "failed"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"population": 3}, "population must be >= 4"),
        ({"generations": 0}, "generations must be >= 1"),
        ({"tournament": 1}, "tournament must be"),
        ({"elite": 12}, "elite must be"),
        ({"crossover_rate": 1.5}, "crossover_rate"),
        ({"validation_fraction": 0.0}, "validation_fraction"),
        ({"styles": ("astrology",)}, "unknown or repeated"),
        ({"styles": ("sentiment",)}, "unknown or repeated"),
        ({"styles": ("momentum", "momentum")}, "unknown or repeated"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_settings(kwargs: dict, match: str) -> None:
    with pytest.raises(EvolutionError, match=match):
        EvolutionConfig(**kwargs).check()


def test_bad_data(market) -> None:
    panel, info = market
    with pytest.raises(EvolutionError, match="bars leave"):
        evolve(DATA, panel.iloc(slice(0, 50)), info, CFG)
    with pytest.raises(EvolutionError, match="cannot support"):
        evolve(DATA, panel, info, EvolutionConfig(styles=("market_making",)))
