"""Where a strategy spec comes from: a file, the quick-form options, or a recorded run.

The CLI and the REST service resolve specs through these functions, so both
accept and refuse the same combinations with the same messages.

The quick-form options (``top_k``, ``weighting``, ``rebalance``, ``fills``,
``start``, ``end``, ``periods_per_year``) are ``None`` when not given. Without a spec file they
build a spec, with :data:`QUICK_DEFAULTS` for those not given. With a spec
file (or the spec of a recorded run) each option given **overrides** the
spec's field: the resulting spec carries the new values (so its hash and the
recorded run show them), its description says which options changed it, and
:attr:`ResolvedSpec.overrides` lists them for the caller to show
(:meth:`ResolvedSpec.overrides_line`). ``expr`` and ``data`` never combine
with a file: they describe another strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.backtest import StrategySpec, load_spec, quick_spec
from alphaloop.errors import SpecError

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = [
    "QUICK_DEFAULTS",
    "ResolvedSpec",
    "override_spec",
    "resolve_run_spec",
    "resolve_spec",
    "spec_from_run",
]

QUICK_DEFAULTS: dict[str, Any] = {
    "top_k": 5,
    "weighting": "equal",
    "rebalance": "monthly",
    "fills": "next_open",
}
"""Values the quick form uses for options not given (the spec's own defaults)."""

# option name -> its command-line spelling, in the order overrides are listed
_OPTIONS: dict[str, str] = {
    "top_k": "--top-k",
    "weighting": "--weighting",
    "rebalance": "--rebalance",
    "fills": "--fills",
    "start": "--start",
    "end": "--end",
    "periods_per_year": "--periods-per-year",
}


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec ready to run and how it was obtained.

    Attributes
    ----------
    spec : StrategySpec
        With every override applied.
    source : str
        ``command line``, the file's path, or ``run N``.
    overrides : dict
        Option name -> value given, for the options that overrode the spec
        read from ``source`` (empty for the quick form).
    """

    spec: StrategySpec
    source: str
    overrides: dict[str, str] = field(default_factory=dict)

    def overrides_line(self) -> str | None:
        """``overrides: fills=next_close, start=2010-01-01``, or None without overrides."""
        if not self.overrides:
            return None
        return "overrides: " + ", ".join(f"{k}={v}" for k, v in self.overrides.items())


def _given(options: dict[str, Any]) -> dict[str, str]:
    """The options that were given, in a fixed order, as text."""
    out = {}
    for name in _OPTIONS:
        value = options.get(name)
        if value is not None:
            out[name] = value.isoformat() if isinstance(value, date) else str(value)
    return out


def override_spec(
    spec: StrategySpec,
    *,
    source: str = "spec",
    top_k: int | None = None,
    weighting: str | None = None,
    rebalance: str | None = None,
    fills: str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    periods_per_year: float | None = None,
) -> ResolvedSpec:
    """``spec`` with the quick-form options that were given (not None) applied.

    ``top_k`` sets ``portfolio.k`` and needs portfolio method ``top_k``;
    ``weighting`` sets ``portfolio.weighting``; ``rebalance`` sets the
    rebalance frequency (and resets ``every`` to 1); ``fills``, ``start``,
    ``end`` and ``periods_per_year`` set the fields of those names. The description gains one line
    naming the overrides; the name is kept.

    Raises
    ------
    SpecError
        An option does not apply to this spec (``top_k`` on another portfolio
        method), or the result is not a valid spec (naming the field and the
        options given).
    """
    given = _given(
        {
            "top_k": top_k,
            "weighting": weighting,
            "rebalance": rebalance,
            "fills": fills,
            "start": start,
            "end": end,
            "periods_per_year": periods_per_year,
        }
    )
    if not given:
        return ResolvedSpec(spec, source)
    if top_k is not None and spec.portfolio.method != "top_k":
        raise SpecError(
            f"--top-k applies to portfolio method top_k; {source} uses {spec.portfolio.method}",
            hint="drop --top-k, or change portfolio in the spec file",
        )
    doc = spec.model_dump(mode="json")
    portfolio = dict(doc["portfolio"])
    if top_k is not None:
        portfolio["k"] = top_k
    if weighting is not None:
        portfolio["weighting"] = weighting
    doc["portfolio"] = portfolio
    if rebalance is not None:
        doc["rebalance"] = {"frequency": rebalance}
    fields = (("fills", fills), ("start", start), ("end", end))
    for name, value in (*fields, ("periods_per_year", periods_per_year)):
        if value is not None:
            doc[name] = value
    line = "overrides: " + ", ".join(f"{k}={v}" for k, v in given.items())
    doc["description"] = "\n".join(filter(None, [doc.get("description") or "", line]))
    options = " ".join(f"{_OPTIONS[k]} {v}" for k, v in given.items())
    new = StrategySpec.from_dict(doc, source=f"{source} with {options}")
    return ResolvedSpec(new, source, given)


def resolve_spec(
    spec_path: str | Path | None = None,
    expr: str | None = None,
    data: str | None = None,
    *,
    top_k: int | None = None,
    weighting: str | None = None,
    rebalance: str | None = None,
    fills: str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    periods_per_year: float | None = None,
) -> ResolvedSpec:
    """The spec from a file with the options given as overrides, or built from the quick form.

    Parameters
    ----------
    spec_path : path, optional
        A YAML or JSON strategy spec.
    expr, data : str, optional
        The quick form's signal expression and dataset; refused with a file.
    top_k, weighting, rebalance, fills, start, end, periods_per_year : optional
        None when not given. With a file they override its fields (see
        :func:`override_spec`); without one they build a top-k long-only
        spec, the options not given taking :data:`QUICK_DEFAULTS`.

    Raises
    ------
    SpecError
        Nothing to run, a file together with ``expr``/``data``, an option
        that does not apply to the file's spec, or an invalid field.
    """
    options = {
        "top_k": top_k,
        "weighting": weighting,
        "rebalance": rebalance,
        "fills": fills,
        "start": start,
        "end": end,
        "periods_per_year": periods_per_year,
    }
    if spec_path is not None:
        if expr is not None or data is not None:
            given = [f for f, v in (("--expr", expr), ("--data", data)) if v is not None]
            raise SpecError(
                f"give either a spec file or --expr/--data, not both (got a file and "
                f"{' and '.join(given)})",
                hint="put the signal and the dataset in the spec file, or drop the file",
            )
        return override_spec(load_spec(spec_path), source=str(spec_path), **options)
    if expr is None or data is None:
        raise SpecError(
            "nothing to run: give a spec file, or --expr EXPR --data NAME",
            hint="e.g. alphaloop backtest --expr '$close/Ref($close,20)-1' --data sp500-stocks "
            "--fills next_close",
        )
    quick = {k: (QUICK_DEFAULTS.get(k) if v is None else v) for k, v in options.items()}
    spec = quick_spec(
        expr,
        data,
        top_k=quick["top_k"],
        weighting=quick["weighting"],
        rebalance=quick["rebalance"],
        fills=quick["fills"],
        start=None if quick["start"] is None else str(quick["start"]),
        end=None if quick["end"] is None else str(quick["end"]),
    )
    if periods_per_year is not None:
        spec = spec.replace(periods_per_year=periods_per_year)
    return ResolvedSpec(spec, "command line")


def spec_from_run(ws: Workspace, run_id: int) -> StrategySpec:
    """The strategy spec a recorded run evaluated.

    Raises
    ------
    RunNotFoundError
        No run with that id.
    SpecError
        The run evaluated no strategy spec (e.g. a model training run).
    """
    run = ws.runs.get(run_id)
    spec = (run["params"] or {}).get("spec")
    if not spec:
        raise SpecError(f"run {run_id} ({run['kind']}) has no strategy spec")
    return StrategySpec.from_dict(spec, source=f"run {run_id}")


def resolve_run_spec(
    ws: Workspace,
    run_id: int,
    expr: str | None = None,
    data: str | None = None,
    **options: Any,
) -> ResolvedSpec:
    """The spec of a recorded run with the quick-form ``options`` given applied as overrides.

    Raises
    ------
    RunNotFoundError
        No run with that id.
    SpecError
        The run has no strategy spec, ``expr``/``data`` were given (they
        describe another strategy), or an override does not apply.
    """
    if expr is not None or data is not None:
        raise SpecError(
            f"give either a run id or --expr/--data, not both (run {run_id})",
            hint="options such as --fills or --start may override the run's spec",
        )
    return override_spec(spec_from_run(ws, run_id), source=f"run {run_id}", **options)
