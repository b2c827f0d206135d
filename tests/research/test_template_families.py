"""Strategy templates as research families: recipes, specs, mutation, crossover, feasibility.

Every registered template (``alphaloop.strategies.TEMPLATES``) is checked as
it is registered, whatever the registry holds. Three small templates defined
here (one that always shorts, one with a long-only switch, one that shorts
at some grid values) are registered for the recipe-level tests of the
long-only and feasibility rules; they never reach a spec (the spec's
template union is fixed at import).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pytest

from alphaloop.errors import SpecError
from alphaloop.research.goal import Constraints
from alphaloop.research.operators import crossover, mutate, mutation_operators
from alphaloop.research.policy import BanditPolicy, Candidate, ResearchView
from alphaloop.research.space import (
    available_families,
    canonical_recipe,
    classify,
    conform,
    random_recipe,
    recipe_spec,
)
from alphaloop.research.template_families import (
    calendar_driven,
    feasible_template,
    make_template,
    overlay_supported,
)
from alphaloop.research.template_recipes import is_template_recipe
from alphaloop.strategies import TEMPLATES, TemplateParams
from tests.cli.conftest import cli

FIELDS = tuple(
    sorted(
        {"open", "high", "low", "close", "volume"}
        | {f for c in TEMPLATES.values() for f in c.FIELDS}
    )
)
N_ASSETS = 60
NAMES = sorted(TEMPLATES)
GOALS = {
    "long_only": Constraints(),
    "long_short": Constraints(long_only=False),
    "weekly": Constraints(horizon="weekly"),
    "turnover": Constraints(long_only=False, max_turnover=2.0),
}


# ------------------------------------------------------------------ toy templates
class AlwaysShort(TemplateParams):
    template: Literal["toy_short"] = "toy_short"
    window: int = 20
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {"window": (10, 20, 40)}
    FIELDS: ClassVar[tuple[str, ...]] = ("close", "volume")
    MIN_ASSETS: ClassVar[int] = 2

    @property
    def shorts(self) -> bool:
        return True

    def spec_defaults(self) -> dict[str, Any]:
        return {"rebalance": {"frequency": "daily"}, "limits": {"allow_short": True}}


class Switched(TemplateParams):
    template: Literal["toy_switch"] = "toy_switch"
    band: float = 2.0
    long_only: bool = False
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {"band": (1.0, 1.5, 2.0, 2.5)}

    @property
    def shorts(self) -> bool:
        return not self.long_only

    def spec_defaults(self) -> dict[str, Any]:
        return {"rebalance": {"frequency": "daily"}}


class GridSided(TemplateParams):
    template: Literal["toy_grid"] = "toy_grid"
    side: Literal["long", "both"] = "both"
    window: int = 20
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "side": ("long", "both"),
        "window": (5, 10, 20, 40, 80),
    }
    MIN_ASSETS: ClassVar[int] = 30

    @property
    def shorts(self) -> bool:
        return self.side == "both"

    def spec_defaults(self) -> dict[str, Any]:
        return {"rebalance": {"frequency": "monthly"}, "limits": {"max_leverage": 2.0}}


class ReadsSignal(TemplateParams):
    template: Literal["toy_factor"] = "toy_factor"
    quantile: float = 0.2
    USES_SIGNAL: ClassVar[bool] = True
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {"quantile": (0.1, 0.2, 0.3)}

    def spec_defaults(self) -> dict[str, Any]:
        return {"rebalance": {"frequency": "monthly"}}


class Factors(TemplateParams):
    template: Literal["toy_factors"] = "toy_factors"
    n_factors: int = 1
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {"n_factors": (1, 3, 5, 10, 20)}

    def min_assets(self) -> int:
        return 2 * self.n_factors + 2

    def spec_defaults(self) -> dict[str, Any]:
        return {"rebalance": {"frequency": "daily"}}


TOYS = {
    c.model_fields["template"].default: c
    for c in (AlwaysShort, Switched, GridSided, ReadsSignal, Factors)
}


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name, cls in TOYS.items():
        monkeypatch.setitem(TEMPLATES, name, cls)
    return sorted(TOYS)


# ------------------------------------------------------------------ helpers
def _recipe(name: str, seed: int, c: Constraints, **kw: Any) -> dict[str, Any]:
    return random_recipe(
        np.random.default_rng(seed),
        family=name,
        constraints=c,
        fields=kw.get("fields", FIELDS),
        templates=kw.get("templates", [name]),
        n_assets=kw.get("n_assets", N_ASSETS),
    )


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict) and d:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else k))
        return out
    if isinstance(d, list):
        return {prefix: json.dumps(d, sort_keys=True)}
    return {prefix: d}


def _diff(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    fa, fb = _flat(a), _flat(b)
    return {k for k in fa.keys() | fb.keys() if fa.get(k, "<none>") != fb.get(k, "<none>")}


def _within(key: str, path: str) -> bool:
    """Whether a changed flat key belongs to the operator's path (a template parameter
    exactly; otherwise the same top-level part: ``exits`` for ``exits.hold_bars``, and the
    signal's parts together: adding an indicator may set how they combine)."""
    if path.startswith("strategy."):
        return key == path

    def top(p: str) -> str:
        head = p.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
        return "signal" if head in ("indicators", "models", "combine", "combiner") else head

    return top(key) == top(path)


def _on_grid(name: str, params: dict[str, Any]) -> None:
    cls = TEMPLATES[name]
    default = cls().model_dump(mode="json")
    for key, values in cls.GRID.items():
        assert params[key] in values or params[key] == default[key], (name, key, params[key])


# ------------------------------------------------------------------ specs of every template
@pytest.mark.parametrize("goal", sorted(GOALS))
@pytest.mark.parametrize("name", NAMES)
def test_recipes_of_every_template_make_valid_specs(name: str, goal: str) -> None:
    c = GOALS[goal]
    if not feasible_template(name, FIELDS, c, n_assets=N_ASSETS):
        assert name not in available_families(FIELDS, c, templates=NAMES, n_assets=N_ASSETS)
        pytest.skip(f"{name} cannot run under the {goal} goal")
    cls = TEMPLATES[name]
    hashes = set()
    for seed in range(6):
        recipe = _recipe(name, seed, c)
        assert canonical_recipe(recipe) == recipe
        assert classify(recipe)[1] == name
        _on_grid(name, recipe["strategy"]["params"])
        spec = recipe_spec(recipe, dataset="d", constraints=c, fields=FIELDS)
        hashes.add(spec.hash)
        assert spec.template is not None
        assert spec.template.template == name
        assert spec.template.model_dump(mode="json") == make_template(
            name, recipe["strategy"]["params"]
        ).model_dump(mode="json")
        assert spec.limits.allow_short is (not c.long_only)
        if c.long_only:
            assert not spec.template.shorts
        defaults = spec.template.spec_defaults()
        for key, value in (defaults.get("limits") or {}).items():
            if key != "allow_short":
                assert getattr(spec.limits, key) == value
        if cls.USES_SIGNAL:
            assert spec.signal is not None
            assert recipe["indicators"]
        else:
            assert spec.signal is None
            assert not recipe["indicators"]
        if cls.OUTPUT == "signal":
            assert spec.portfolio.method == ("top_k" if c.long_only else "quantile_long_short")
            assert spec.portfolio.method != "top_k" or spec.portfolio.k < N_ASSETS
        if calendar_driven(name, recipe["strategy"]["params"]):
            assert spec.rebalance.frequency == recipe["rebalance"]
            if c.horizon is not None:
                assert spec.rebalance.frequency == c.horizon
            if c.max_turnover is not None:
                assert spec.rebalance.frequency != "daily"
        else:
            assert recipe["rebalance"] is None
        # the same recipe written differently gives the same spec
        shuffled = json.loads(json.dumps(recipe))
        shuffled["strategy"]["params"] = dict(
            reversed(list(shuffled["strategy"]["params"].items()))
        )
        assert recipe_spec(shuffled, dataset="d", constraints=c, fields=FIELDS).hash == spec.hash
    if int(np.prod([len(v) for v in cls.GRID.values()])) >= 4:
        assert len(hashes) >= 2  # the grid is explored


def test_overlay_only_where_the_template_takes_it() -> None:
    recipe = {**_recipe("xs_momentum", 0, Constraints()), "overlay": None}
    with_overlay = {**recipe, "overlay": {"target": 0.1, "window": 63}}
    out = conform(with_overlay, Constraints(), n_assets=N_ASSETS)
    assert overlay_supported("xs_momentum")
    assert out["overlay"] == {"target": 0.1, "window": 63}
    spec = recipe_spec(with_overlay, dataset="d", constraints=Constraints())
    assert spec.hash != recipe_spec(recipe, dataset="d", constraints=Constraints()).hash
    # quotes have no target weights to scale: never an overlay on market making
    quotes = _recipe("market_making", 0, Constraints())
    assert not overlay_supported("market_making")
    assert (
        conform({**quotes, "overlay": {"target": 0.1, "window": 63}}, Constraints())["overlay"]
        is None
    )
    assert "overlay" not in mutation_operators(quotes, Constraints(), FIELDS)


def test_indicator_recipes_are_unchanged() -> None:
    recipe = {
        "indicators": [{"family": "momentum", "template": "mom", "params": {"lookback": 63}}],
        "logic": {"method": "top_k", "k": 5},
    }
    assert not is_template_recipe(canonical_recipe(recipe))
    assert "strategy" not in canonical_recipe(recipe)
    assert classify(recipe) == ("pure_technical", "momentum", "top_k")
    # no templates asked for: the families are the indicator families only
    assert not set(available_families(FIELDS, Constraints())) & set(TEMPLATES)


# ------------------------------------------------------------------ mutation and crossover
@pytest.mark.parametrize("name", NAMES)
def test_mutation_stays_on_the_grid_and_changes_one_thing(name: str) -> None:
    c = Constraints(long_only=False)
    if not feasible_template(name, FIELDS, c, n_assets=N_ASSETS):
        pytest.skip(f"{name} cannot run here")
    cls = TEMPLATES[name]
    for seed in range(4):
        parent = _recipe(name, seed, c)
        ops = mutation_operators(parent, c, FIELDS)
        assert "redraw" in ops or not cls.GRID
        for op in ops:
            rng = np.random.default_rng([seed, len(op)])
            v = mutate(parent, rng, constraints=c, fields=FIELDS, operator=op, n_assets=N_ASSETS)
            child = v.recipe
            assert classify(child)[1] == name
            _on_grid(name, child["strategy"]["params"])
            assert len(v.exploration["changed"]) == 1, (op, v.exploration)
            path = v.exploration["changed"][0]
            changed = _diff(parent, child)
            assert changed, (op, parent)
            assert all(_within(k, path) for k in changed), (path, changed)
            if op == "param" and path.startswith("strategy.params."):
                key = path.rsplit(".", 1)[-1]
                grid = list(cls.GRID[key])
                old, new = parent["strategy"]["params"][key], child["strategy"]["params"][key]
                assert abs(grid.index(new) - grid.index(old)) == 1
            recipe_spec(child, dataset="d", constraints=c, fields=FIELDS)  # valid


@pytest.mark.parametrize("name", NAMES)
def test_crossover_keeps_the_template_and_mixes_parameters(name: str) -> None:
    c = Constraints(long_only=False)
    if not feasible_template(name, FIELDS, c, n_assets=N_ASSETS):
        pytest.skip(f"{name} cannot run here")
    recipes = [_recipe(name, s, c) for s in range(8)]
    pairs = [(a, b) for a in recipes for b in recipes if a != b][:10]
    if not pairs:
        pytest.skip(f"{name}: every draw is the same recipe")
    for i, (a, b) in enumerate(pairs):
        v = crossover(a, b, np.random.default_rng(i), constraints=c, parents=("pa", "pb"))
        child = v.recipe
        assert classify(child)[1] == name
        assert v.parents == ("pa", "pb")
        assert v.exploration["crossover"]
        assert child != a
        for key, value in child["strategy"]["params"].items():
            assert value in (a["strategy"]["params"][key], b["strategy"]["params"][key])
        recipe_spec(child, dataset="d", constraints=c, fields=FIELDS)


def test_crossover_of_two_templates_is_refused(toys: list[str]) -> None:
    c = Constraints(long_only=False)
    a = _recipe("toy_grid", 0, c)
    b = _recipe("toy_switch", 0, c)
    with pytest.raises(ValueError, match="same template"):
        crossover(a, b, np.random.default_rng(0), constraints=c)
    indicator = random_recipe(np.random.default_rng(0), constraints=c, fields=FIELDS)
    with pytest.raises(ValueError, match="same template"):
        crossover(indicator, a, np.random.default_rng(0), constraints=c)


# ------------------------------------------------------------------ goals and data
def test_long_only_goals_never_yield_a_shorting_template(toys: list[str]) -> None:
    long_only, long_short = Constraints(), Constraints(long_only=False)
    families = available_families(FIELDS, long_only, templates=toys, n_assets=N_ASSETS)
    assert "toy_short" not in families  # shorts at every parameter
    assert {"toy_switch", "toy_grid"} <= set(families)
    assert "toy_short" in available_families(FIELDS, long_short, templates=toys, n_assets=N_ASSETS)
    for seed in range(20):
        for name in ("toy_switch", "toy_grid"):
            recipe = _recipe(name, seed, long_only)
            params = recipe["strategy"]["params"]
            assert not make_template(name, params).shorts
            for op in mutation_operators(recipe, long_only, FIELDS):
                rng = np.random.default_rng(seed)
                child = mutate(recipe, rng, constraints=long_only, fields=FIELDS, operator=op)
                assert not make_template(name, child.recipe["strategy"]["params"]).shorts
        # a long-short parent conformed to a long-only goal is made long-only
        both = _recipe("toy_grid", seed, long_short)
        fixed = conform(both, long_only)["strategy"]["params"]
        assert fixed["side"] == "long"
        assert fixed["window"] == both["strategy"]["params"]["window"]
    switched = conform({"strategy": {"template": "toy_switch", "params": {}}}, long_only)
    assert switched["strategy"]["params"]["long_only"] is True
    with pytest.raises(SpecError, match="long-only"):
        conform({"strategy": {"template": "toy_short", "params": {}}}, long_only)


def test_fields_assets_and_horizon_decide_feasibility(toys: list[str]) -> None:
    c = Constraints(long_only=False)
    assert "toy_short" not in available_families(("close",), c, templates=toys)  # no volume
    assert "toy_short" not in available_families(FIELDS, c, templates=toys, n_assets=1)
    assert "toy_grid" not in available_families(FIELDS, c, templates=toys, n_assets=20)
    assert "toy_grid" in available_families(FIELDS, c, templates=toys, n_assets=30)
    with pytest.raises(SpecError, match="at least 30 assets"):
        conform(_recipe("toy_grid", 0, c), c, n_assets=10)
    # a template deciding on every bar cannot keep a weekly horizon; a calendar one can
    weekly = Constraints(long_only=False, horizon="weekly")
    families = available_families(FIELDS, weekly, templates=toys, n_assets=N_ASSETS)
    assert "toy_short" not in families
    assert "toy_switch" not in families
    assert "toy_grid" in families
    assert _recipe("toy_grid", 3, weekly)["rebalance"] == "weekly"
    assert _recipe("toy_switch", 3, c)["rebalance"] is None
    # ML-only goals draw no template
    ml_only = Constraints(kinds=("pure_ml",))
    assert not set(available_families(FIELDS, ml_only, templates=toys)) & set(toys)


def test_templates_with_grids_draw_and_step_on_their_grid(toys: list[str]) -> None:
    c = Constraints(long_only=False)
    seen = {_recipe("toy_grid", s, c)["strategy"]["params"]["window"] for s in range(40)}
    assert seen == set(GridSided.GRID["window"])
    recipe = conform(
        {"strategy": {"template": "toy_grid", "params": {"window": 5, "side": "both"}}}, c
    )
    for seed in range(10):
        v = mutate(
            recipe, np.random.default_rng(seed), constraints=c, fields=FIELDS, operator="param"
        )
        assert v.recipe["strategy"]["params"] in (
            {"side": "both", "window": 10},
            {"side": "long", "window": 5},
        )
    with pytest.raises(ValueError, match="not on its grid"):
        canonical_recipe({"strategy": {"template": "toy_grid", "params": {"window": 7}}})
    with pytest.raises(ValueError, match="no strategy template"):
        canonical_recipe({"strategy": {"template": "nope", "params": {}}})


# ------------------------------------------------------------------ the policy
def _view(history: tuple[Candidate, ...], batch: int, c: Constraints) -> ResearchView:
    return ResearchView(
        "d",
        FIELDS,
        N_ASSETS,
        c,
        history,
        (),
        batch,
        frozenset(x.hash for x in history),
        tuple(NAMES),
    )


def test_the_bandit_explores_and_exploits_template_families() -> None:
    c = Constraints(long_only=False)
    policy = BanditPolicy()
    history: list[Candidate] = []
    arms: set[str] = set()
    feasible = [n for n in NAMES if feasible_template(n, FIELDS, c, n_assets=N_ASSETS)]
    for b in range(5):
        view = _view(tuple(history), b, c)
        n = len(available_families(FIELDS, c, templates=NAMES, n_assets=N_ASSETS)) + 2
        proposals = policy.propose(view, n if b == 0 else 12, np.random.default_rng([3, b]))
        assert proposals
        if b == 0:
            assert set(feasible) <= {classify(p.recipe)[1] for p in proposals}
        for p in proposals:
            kind, family, logic = classify(p.recipe)
            spec = recipe_spec(p.recipe, dataset="d", constraints=c, fields=FIELDS)
            assert spec.hash not in view.seen
            arms.add(p.context["arm"])
            template = family in TEMPLATES
            sharpe = 1.0 + 0.01 * len(history) if template else -0.5
            history.append(
                Candidate(
                    spec.hash,
                    p.recipe,
                    kind,
                    family,
                    logic,
                    (),
                    "ok",
                    sharpe,
                    None,
                    b,
                    p.action,
                    p.context["arm"],
                    p.parents,
                )
            )
    assert any(a.startswith("exploit/") and a.split("/", 1)[1] in TEMPLATES for a in arms)
    exploits = [c_ for c_ in history if c_.action == "exploit" and c_.family in TEMPLATES]
    assert exploits
    assert all(c_.parents for c_ in exploits)
    # a template child's parents are of its own template
    by_hash = {c_.hash: c_ for c_ in history}
    for child in exploits:
        for parent in child.parents:
            assert by_hash[parent].family == child.family


# ------------------------------------------------------------------ the strategy database
def test_template_strategies_are_stored_shown_and_traced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphaloop.app import Workspace
    from alphaloop.research import Parentage
    from alphaloop.research.strategy_records import spec_kind, spec_logic, spec_models

    c = Constraints()
    parent = _recipe("xs_momentum", 0, c)
    child = mutate(parent, np.random.default_rng(1), constraints=c, fields=FIELDS, operator="param")
    specs = [
        recipe_spec(r, dataset="d", constraints=c, fields=FIELDS) for r in (parent, child.recipe)
    ]
    assert spec_models(specs[0]) == []
    assert spec_kind(specs[0]) == "pure_technical"
    assert spec_logic(specs[0]) == "top_k"
    root = tmp_path / "ws"
    with Workspace(root) as ws:
        for spec, recipe, parentage in (
            (specs[0], parent, None),
            (specs[1], child.recipe, Parentage(specs[0].hash, None, "param", child.exploration)),
        ):
            kind, family, logic = classify(recipe)
            ws.strategies.record_strategy(
                spec, kind=kind, family=family, logic=logic, recipe=recipe,
                origin="research", parentage=parentage,
            )  # fmt: skip
        stored = ws.strategies.get(specs[1].hash)
        assert stored.family == "xs_momentum"
        assert stored.recipe == child.recipe
    code, text, _ = cli(capsys, root, "strategies", "show", specs[1].hash[:12])
    assert code == 0
    assert "family xs_momentum" in text
    assert f"strategy: {specs[1].describe_signal()}" in text
    assert '"template": "xs_momentum"' in text
    code, text, _ = cli(capsys, root, "strategies", "genealogy", specs[1].hash[:12])
    assert code == 0
    assert specs[0].hash[:8] in text


# ------------------------------------------------------------------ a session
def _synthetic_workspace(root: Path) -> Any:
    """A workspace holding ``synth``: the synthetic panel's closes (20 assets, 1,500 days)."""
    import pandas as pd

    from alphaloop.app import Workspace

    from .synthetic import make_panel

    panel = make_panel(n_times=1000, n_assets=20, seed=5)
    close = pd.DataFrame(np.asarray(panel["close"]), index=panel.index, columns=panel.assets)
    frame = close.stack().rename("close").reset_index()
    frame.columns = ["timestamp", "asset", "close"]
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%d")
    root.mkdir(parents=True)
    path = root.parent / f"{root.name}.csv"
    frame.to_csv(path, index=False)
    ws = Workspace(root)
    ws.data.import_file(path, "synth")
    return ws


def _session_rows(ws: Any, session_id: int) -> list[tuple[Any, ...]]:
    decisions = [d for d in ws.strategies.decisions(session_id) if d.strategy_hash]
    hashes = [d.strategy_hash for d in decisions]
    strategies = ws.strategies.strategies(hashes)
    key = ws.strategies.session(session_id)["config"]["protocol"]
    from alphaloop.research.evaluate import EvaluationProtocol

    evaluations = ws.strategies.evaluations(
        hashes, EvaluationProtocol.model_validate(key).key(), returns=False
    )
    rows = []
    for d in decisions:
        ev = evaluations.get(d.strategy_hash)
        rows.append(
            (
                d.seq, d.action, d.operator, d.strategy_hash, tuple(d.parents),
                strategies[d.strategy_hash].family,
                None if ev is None else ev.status,
                None if ev is None else ev.sharpe,
                None if ev is None else ev.passed,
            )
        )  # fmt: skip
    return rows


def test_a_session_evaluates_template_candidates_and_replays(tmp_path: Path) -> None:
    from alphaloop.app.research import start_research
    from alphaloop.research.session import SessionConfig

    config = SessionConfig(
        budget=16, batch_size=8, workers=1, seed=7, picks=0, ml=False, scan_points=8
    )
    runs = []
    for i in range(2):
        with _synthetic_workspace(tmp_path / f"ws{i}") as ws:
            result = start_research(ws, "long-only strategies", "synth", config)
            rows = _session_rows(ws, result.session_id)
            stored = ws.strategies.session(result.session_id)["config"]["template_names"]
        assert stored == NAMES
        runs.append(rows)
    rows = runs[0]
    assert len(rows) == 16
    # the first batch seeds one recipe per family: 8 slots, at most 7 indicator families
    template_rows = [r for r in rows if r[5] in TEMPLATES]
    assert template_rows
    # template candidates ran: backtested and scanned like any candidate
    assert any(r[6] == "ok" and r[7] is not None for r in template_rows), template_rows
    assert all(r[6] in ("ok", "rejected", "failed") for r in template_rows)
    assert runs[0] == runs[1]  # the same seed replays the same session


def test_no_templates_leaves_them_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ws"
    _synthetic_workspace(root).close()
    args = ["research", "--goal", "long-only strategies", "--data", "synth", "--budget", "8"]
    args += ["--batch-size", "8", "--workers", "1", "--picks", "0", "--no-ml", "--no-templates"]
    code, _, err = cli(capsys, root, *args, "--json")
    assert code in (0, 1), err
    from alphaloop.app import Workspace

    with Workspace(root) as ws:
        session = ws.strategies.sessions(1)[0]
        assert ws.strategies.session(session["id"])["config"]["template_names"] == []
        rows = _session_rows(ws, session["id"])
    assert len(rows) == 8
    assert not {r[5] for r in rows} & set(TEMPLATES)


def test_a_template_that_reads_a_signal_gets_one_from_the_indicator_families(
    toys: list[str],
) -> None:
    from alphaloop.research.space import spec_dict

    c = Constraints(long_only=False)
    for seed in range(6):
        recipe = _recipe("toy_factor", seed, c)
        assert len(recipe["indicators"]) == 1
        assert classify(recipe) == ("pure_technical", "toy_factor", "toy_factor")
        assert recipe["rebalance"] is not None  # a signal reader trades on the calendar
        d = spec_dict(recipe, dataset="d", constraints=c)
        assert d["template"]["template"] == "toy_factor"
        assert "expr" in d["signal"]
        assert "portfolio" not in d  # it builds its own book
        ops = mutation_operators(recipe, c, FIELDS)
        assert {"param", "redraw", "indicator", "rebalance"} <= set(ops)
        assert "logic" not in ops
        v = mutate(
            recipe, np.random.default_rng(seed), constraints=c, fields=FIELDS, operator="indicator"
        )
        assert v.recipe["strategy"] == recipe["strategy"]
        assert v.recipe["indicators"] != recipe["indicators"]
        assert v.exploration["new_indicator"]


def test_parameters_that_need_more_assets_than_the_universe_are_not_drawn(
    toys: list[str],
) -> None:
    from alphaloop.research.template_families import grid_moves

    c = Constraints(long_only=False)
    drawn = {
        _recipe("toy_factors", s, c, n_assets=12)["strategy"]["params"]["n_factors"]
        for s in range(30)
    }
    assert drawn == {1, 3, 5}  # 10 factors need 22 assets
    assert grid_moves(
        "toy_factors", {"n_factors": 5}, "n_factors", neighbours=True, long_only=False, n_assets=12
    ) == [3]
    narrow = conform({"strategy": {"template": "toy_factors", "params": {"n_factors": 5}}}, c)
    for seed in range(8):
        for op in ("param", "redraw"):
            rng = np.random.default_rng(seed)
            child = mutate(narrow, rng, constraints=c, fields=FIELDS, operator=op, n_assets=12)
            assert child.recipe["strategy"]["params"]["n_factors"] in (1, 3)
    wide = conform(
        {"strategy": {"template": "toy_factors", "params": {"n_factors": 10}}}, c, n_assets=22
    )
    assert wide["strategy"]["params"]["n_factors"] == 10
    with pytest.raises(SpecError, match="at least 22 assets"):
        conform(wide, c, n_assets=12)
