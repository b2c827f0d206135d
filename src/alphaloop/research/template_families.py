"""Strategy templates as research families: parameters on their grids, feasibility, specs.

Every class of :data:`alphaloop.strategies.TEMPLATES` is a family of the
search space, named after its template (``xs_momentum``, ``pairs``, ...). Its
parameter ranges are the class's ``GRID`` (each tunable parameter and its
allowed values in increasing order); parameters not in the grid keep their
defaults. A template family is drawn only where it can run:

- the dataset has the template's ``FIELDS`` and at least its ``MIN_ASSETS``
  assets (when the number of assets is known);
- the goal allows technical strategies (``pure_technical``);
- a long-only goal: some parameters make the template long-only (a template
  that always shorts is left out; one that shorts at some grid values is
  drawn at the others, or with its long-only switch set);
- a goal with a horizon: the template trades on the rebalance calendar (its
  rebalancing becomes the horizon); templates that decide on every bar by
  their own rules are left out;
- a template that reads a signal (``USES_SIGNAL``): some indicator family fits the fields.

Nothing here is hard-coded per template: every decision reads the class's
attributes, so templates registered later join the search as they are.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any, get_args

import numpy as np
from pydantic import ValidationError

from alphaloop.backtest.spec import StrategySpec
from alphaloop.research.goal import Constraints
from alphaloop.strategies import TEMPLATES, TemplateParams

__all__ = [
    "OVERLAYS",
    "calendar_driven",
    "canonical_params",
    "feasible_template",
    "grid_moves",
    "long_only_params",
    "make_template",
    "overlay_supported",
    "random_params",
    "spec_base",
    "template_names",
]

#: the volatility-target overlays the search toggles (annualized target, window in bars)
OVERLAYS: tuple[dict[str, Any], ...] = ({"target": 0.1, "window": 63},)
_TRIES = 50


def template_names() -> list[str]:
    """Every registered strategy template, sorted by name."""
    return sorted(TEMPLATES)


def overlay_supported(name: str) -> bool:
    """Whether template ``name`` takes the volatility-target overlay (every template
    but a quoting one: the overlay scales target weights, and quotes have none)."""
    return "overlay" in StrategySpec.model_fields and _cls(name).OUTPUT != "quotes"


def _cls(name: str) -> type[TemplateParams]:
    if name not in TEMPLATES:
        raise ValueError(
            f"no strategy template {name!r}; registered: {', '.join(template_names())}"
        )
    return TEMPLATES[name]


def make_template(name: str, params: Mapping[str, Any]) -> TemplateParams:
    """The template ``name`` with ``params`` (pydantic's ValidationError, a ValueError, if bad)."""
    return _cls(name).model_validate({**params, "template": name})


def _defaults(cls: type[TemplateParams]) -> dict[str, Any]:
    dump = cls.model_validate({}).model_dump(mode="json")
    dump.pop("template", None)
    return dump


def canonical_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Plain, validated parameters: every grid parameter, plus others set off their defaults.

    Raises
    ------
    ValueError
        A grid parameter off its grid (its default is allowed), an unknown
        parameter, or values the template refuses.
    """
    cls = _cls(name)
    inst = make_template(name, params)
    dump = inst.model_dump(mode="json")
    default = _defaults(cls)
    out: dict[str, Any] = {}
    for key, values in cls.GRID.items():
        v = dump[key]
        if v not in values and v != default.get(key):
            raise ValueError(f"template {name}: {key}={v!r} is not on its grid {values}")
        out[key] = v
    for key in params:
        if key not in cls.GRID and key != "template" and dump[key] != default.get(key):
            out[key] = dump[key]
    return dict(sorted(out.items()))


def calendar_driven(name: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the template trades on the spec's rebalance calendar (its rebalancing a choice).

    The class's ``CALENDAR`` when set; otherwise templates whose output is a
    signal or that read one are, quoting templates (market making) are not,
    and others are when their default rebalancing is less often than daily.
    """
    cls = _cls(name)
    explicit = getattr(cls, "CALENDAR", None)
    if explicit is not None:
        return bool(explicit)
    if cls.OUTPUT == "signal" or cls.USES_SIGNAL:
        return True
    if cls.OUTPUT == "quotes":
        return False
    inst = make_template(name, params or {})
    frequency = (inst.spec_defaults().get("rebalance") or {}).get("frequency", "monthly")
    return frequency != "daily"


def _choices(cls: type[TemplateParams]) -> list[tuple[str, list[Any]]]:
    """Non-grid fields with a few possible values: bools and literals."""
    out = []
    for key, info in cls.model_fields.items():
        if key == "template" or key in cls.GRID:
            continue
        if info.annotation is bool:
            values: list[Any] = [True, False]
        else:
            values = [v for v in get_args(info.annotation) if isinstance(v, str | bool)]
        if values:
            out.append((key, values))
    return out


def _is_side(key: str) -> bool:
    return any(w in key for w in ("long", "short", "side"))


def long_only_params(name: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """``params`` if the template does not short with them, else the nearest that do not.

    Tried in order: a long/short switch outside the grid (``long_only: true``,
    ``long_short: false``, ``side: long``), then such a switch with one other
    setting outside the grid that it depends on (``neutral: none`` for a
    long-only factor book), then one grid parameter moved to another grid
    value. None when no such change makes the template long-only.
    """
    cls = _cls(name)
    base = dict(params)
    choices = _choices(cls)
    switches = [(k, v) for k, values in choices if _is_side(k) for v in values]
    tries: list[dict[str, Any]] = [base]
    tries += [{**base, k: v} for k, v in switches]
    for k, v in switches:
        tries += [
            {**base, k: v, other: w} for other, values in choices if other != k for w in values
        ]
    for key, values in sorted(cls.GRID.items()):
        tries += [{**base, key: v} for v in values if v != base.get(key)]
    for p in tries:
        try:
            if not make_template(name, p).shorts:
                return p
        except ValidationError:
            continue
    return None


def _fits(inst: TemplateParams, n_assets: int | None) -> bool:
    """Whether the universe is wide enough for these parameters (unknown: yes)."""
    return not n_assets or n_assets >= int(inst.min_assets())


def random_params(
    name: str, rng: np.random.Generator, *, long_only: bool, n_assets: int | None = None
) -> dict[str, Any]:
    """Canonical parameters: each grid parameter drawn uniformly from its grid.

    Draws the template refuses (e.g. a skip not below the lookback), or that
    need more assets than ``n_assets`` (:meth:`TemplateParams.min_assets`),
    are drawn again; on a long-only goal a shorting draw is made long-only
    (:func:`long_only_params`) or drawn again.

    Raises
    ------
    ValueError
        No valid draw in 50 tries.
    """
    cls = _cls(name)
    for _ in range(_TRIES):
        params = {k: values[int(rng.integers(len(values)))] for k, values in cls.GRID.items()}
        try:
            inst = make_template(name, params)
        except ValidationError:
            continue
        if long_only and inst.shorts:
            fixed = long_only_params(name, params)
            if fixed is None:
                continue
            params = fixed
        if not _fits(make_template(name, params), n_assets):
            continue
        return canonical_params(name, params)
    raise ValueError(f"template {name}: no valid parameters drawn from its grid {cls.GRID}")


def grid_moves(
    name: str,
    params: Mapping[str, Any],
    key: str,
    *,
    neighbours: bool,
    long_only: bool,
    n_assets: int | None = None,
) -> list[Any]:
    """Values ``key`` may move to: its grid neighbours (or any other grid value), keeping the
    template valid (long-only when asked, within ``n_assets`` assets when given)."""
    cls = _cls(name)
    grid = list(cls.GRID[key])
    current = params.get(key)
    if neighbours and current in grid:
        pos = grid.index(current)
        values = [grid[p] for p in (pos - 1, pos + 1) if 0 <= p < len(grid)]
    elif neighbours:  # a default off the grid: the grid values next to it
        try:
            pos = sum(1 for v in grid if v < current)
            values = [grid[p] for p in (pos - 1, pos) if 0 <= p < len(grid)]
        except TypeError:
            values = grid
    else:
        values = [v for v in grid if v != current]
    out = []
    for v in values:
        try:
            inst = make_template(name, {**params, key: v})
        except ValidationError:
            continue
        if not (long_only and inst.shorts) and _fits(inst, n_assets):
            out.append(v)
    return out


def feasible_template(
    name: str,
    fields: Collection[str],
    constraints: Constraints,
    *,
    n_assets: int | None = None,
    signal_ok: bool = True,
) -> bool:
    """Whether the template family can be drawn on this data under these constraints.

    ``signal_ok``: some indicator family fits the fields (templates that read
    a signal need one). See the module docstring for the rules.
    """
    cls = _cls(name)
    have = {f.lower() for f in fields}
    if not {f.lower() for f in cls.FIELDS} <= have:
        return False
    if n_assets is not None and n_assets < int(getattr(cls, "MIN_ASSETS", 1)):
        return False
    if "pure_technical" not in constraints.kinds:
        return False
    if cls.USES_SIGNAL and not signal_ok:
        return False
    try:
        defaults = _defaults(cls)
    except ValidationError:
        return False
    if constraints.long_only and long_only_params(name, defaults) is None:
        return False
    return not (constraints.horizon is not None and not calendar_driven(name, defaults))


def spec_base(inst: TemplateParams) -> dict[str, Any]:
    """The template's :meth:`~TemplateParams.spec_defaults`, deep-copied (the spec starts here)."""
    return copy.deepcopy(dict(inst.spec_defaults()))
