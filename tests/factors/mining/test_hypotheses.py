"""Hypotheses in the miner: screened by the parser, scored and counted like any candidate,
their descendants named, kept across a resume, measured on a span."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from alphaloop.errors import MiningError
from alphaloop.factors.evaluate import evaluate_nodes
from alphaloop.factors.mining import (
    Hypothesis,
    ICScorer,
    MiningConfig,
    mine,
    next_bar_label,
    planted_panel,
    screen_hypotheses,
    search_folds,
    span_ics,
    training_ics,
)
from alphaloop.factors.mining.hypotheses import lineage_sources
from alphaloop.factors.parser import parse

FAST = MiningConfig(budget=200, population=60, pool=4, seed=0)


def test_screening_keeps_what_the_parser_accepts() -> None:
    fields = ("close", "volume")
    accepted, rejected = screen_hypotheses(
        [
            Hypothesis("Corr($close, $volume, 10)", "llm:m", "pv"),
            Hypothesis("Corr($volume,$close,10)", "llm:m", "vp"),  # the same, canonically
            Hypothesis("eval('1+1')", "llm:m", "e"),
            Hypothesis("Mean($open, 5)", "llm:m", "o"),
            Hypothesis("Ref($close, -1)", "llm:m", "peek"),
            Hypothesis("Mean($close, 5)" * 40, "llm:m", "long"),
            Hypothesis("(" * 500 + "$close" + ")" * 500, "llm:m", "deep"),
        ],
        fields,
    )
    assert [(h.name, h.expression) for h in accepted] == [("pv", "Corr($close,$volume,10)")]
    reasons = {r.hypothesis.name: r.reason for r in rejected}
    assert reasons["vp"] == "duplicate of pv"
    assert "unknown operator 'eval'" in reasons["e"]
    assert "unknown field $open" in reasons["o"]
    assert "lookahead" in reasons["peek"]
    assert "longer than" in reasons["long"]
    assert reasons["deep"]


def test_hypotheses_are_scored_in_the_first_generation_and_counted() -> None:
    pp = planted_panel(alpha="corr_close_volume", seed=4, n_times=400, n_assets=30)
    hyps = (Hypothesis("Corr($close,$volume,10)", "llm:m", "pv"), Hypothesis("Mean($close,5)"))
    result = mine(pp.panel, replace(FAST, hypotheses=hyps))
    found = {c.expression: c for c in result.candidates if c.operator == "hypothesis"}
    assert set(found) == {"Corr($close,$volume,10)", "Mean($close,5)"}
    assert {c.origin for c in found.values()} == {"llm:m", "user"}
    assert all(c.generation == 0 for c in found.values())
    assert result.n_scored == len(result.candidates) == FAST.budget  # trials like any other
    assert found["Corr($close,$volume,10)"].status == "pooled"  # it entered the pool
    parents = {c.key: c.parents for c in result.candidates}
    origins = {c.key: c.origin for c in result.candidates if c.origin is not None}
    for m in result.members:
        assert m.origins == lineage_sources(m.key, parents, origins)
    assert any("llm:m" in m.origins for m in result.members)
    assert result.to_dict()["config"]["hypotheses"][0]["source"] == "llm:m"
    # without hypotheses nothing is named, and the settings' record is as before
    plain = mine(pp.panel, FAST)
    assert all(m.origins == () for m in plain.members)
    assert "hypotheses" not in plain.to_dict()["config"]


def test_an_unscreened_invalid_hypothesis_is_an_error() -> None:
    pp = planted_panel(alpha="none", seed=1, n_times=300, n_assets=20)
    with pytest.raises(MiningError, match="unknown operator"):
        mine(pp.panel, replace(FAST, hypotheses=(Hypothesis("__import__('os')", "llm:m"),)))


def test_origins_survive_a_resume(tmp_path: Path) -> None:
    pp = planted_panel(alpha="corr_close_volume", seed=2, n_times=400, n_assets=30)
    cfg = replace(FAST, budget=300, hypotheses=(Hypothesis("Corr($close,$volume,10)", "llm:m"),))
    whole = mine(pp.panel, cfg)
    ckpt = tmp_path / "checkpoint.json"
    gens: list[int] = []
    mine(pp.panel, cfg, checkpoint=ckpt, on_generation=lambda p: gens.append(1),
         should_stop=lambda: len(gens) >= 2)  # fmt: skip
    resumed = mine(pp.panel, cfg, checkpoint=ckpt, resume=True)
    assert [c.to_dict() for c in resumed.candidates] == [c.to_dict() for c in whole.candidates]
    assert [m.origins for m in resumed.members] == [m.origins for m in whole.members]


def test_lineage_follows_every_parent() -> None:
    parents = {"c": ("a", "b"), "b": ("h",), "a": (), "h": (), "x": ()}
    assert lineage_sources("c", parents, {"h": "llm:m"}) == ("llm:m",)
    assert lineage_sources("a", parents, {"h": "llm:m"}) == ()
    assert lineage_sources("h", parents, {"h": "llm:m", "a": "user"}) == ("llm:m",)


def test_span_and_training_ics_match_a_direct_computation() -> None:
    pp = planted_panel(alpha="corr_close_volume", seed=3, n_times=400, n_assets=30)
    expr = {"pv": "Corr($close,$volume,10)"}
    after = span_ics(pp.panel, expr, FAST, start_row=300)["pv"]
    train = training_ics(pp.panel, expr, FAST)["pv"]
    plan, _ = search_folds(pp.panel, FAST)
    scorer = ICScorer(next_bar_label(pp.panel.field("close"), 5), pp.panel.membership, plan)
    values = evaluate_nodes(pp.panel, {"pv": parse("Corr($close,$volume,10)")})["pv"]
    daily = scorer.daily_ic(values)
    tail = daily[300:]
    assert after.n_days == int(np.isfinite(tail).sum()) > 0
    assert math.isclose(after.mean_ic, float(np.nanmean(tail)), rel_tol=1e-9)
    rows = scorer.rows("train")
    assert math.isclose(train.mean_ic, float(np.nanmean(daily[rows])), rel_tol=1e-9)
    assert after.mean_ic > 0.05  # the planted relation holds after row 300 too
    with pytest.raises(MiningError, match="outside"):
        span_ics(pp.panel, expr, FAST, start_row=400)
