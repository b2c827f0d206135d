"""The generator stress of ``alphaloop risk report --stress-generator NAME``: SYNTHETIC paths.

The portfolio a strategy holds after its last bar (signed weights, as the
per-asset risk uses, :func:`alphaloop.app.risk_report_page.held_portfolio`)
is carried over Monte Carlo paths drawn by a synthetic-data generator
(:func:`alphaloop.risk.generator_stress`): the quantiles of its return over
``horizon`` bars, VaR, CVaR, drawdowns and limit breaches, labelled
synthetic wherever they are shown.

``NAME`` is a generator stored in the workspace (``alphaloop synth fit``);
otherwise a generator kind (``bootstrap``, ``garch``, ``regime``, ``gan``,
``normal``) fitted now, with its default parameters, on the held assets'
closes over the strategy's data (what the catalog loads: never a sealed
holdout). A stored generator that lacks some held assets stresses the
others; the weight left out is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alphaloop.errors import GeneratorNotFoundError
from alphaloop.jsonsafe import json_safe

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import StrategySpec
    from alphaloop.risk import MonteCarloStress, StressLimits

__all__ = ["GeneratorStress", "check_stress_generator", "generator_stress_section"]

SYNTHETIC_LABEL = "SYNTHETIC: generator paths, not market data"


@dataclass(frozen=True)
class GeneratorStress:
    """A Monte Carlo stress of the held portfolio over a generator's synthetic paths.

    Attributes
    ----------
    generator : str
        The name given (a stored generator or a kind).
    kind : str
    source : str
        ``stored`` or ``fitted on the strategy's data``.
    weights : dict
        Weights stressed (fractions of equity).
    left_out : dict
        Held weights on assets the generator has no paths for.
    result : MonteCarloStress or None
        None when there was nothing to stress (``note`` says why).
    note : str
    """

    generator: str
    kind: str
    source: str
    weights: dict[str, float] = field(default_factory=dict)
    left_out: dict[str, float] = field(default_factory=dict)
    result: MonteCarloStress | None = None
    note: str = ""

    def describe(self) -> str:
        """One line for the text report and the HTML page."""
        head = f"{SYNTHETIC_LABEL}; generator {self.generator!r} ({self.kind}, {self.source})"
        mc = self.result
        if mc is None:
            return f"{head}: {self.note}"
        line = (
            f"{head}: {mc.n_paths:,} paths of {mc.horizon} bars, seed {mc.seed}: "
            f"VaR {mc.var:.2%}, CVaR {mc.cvar:.2%} at {mc.confidence:g}, "
            f"max drawdown 95% {mc.drawdown_quantiles[0.95]:.2%}"
        )
        line += "".join(f", P({k} breached) {v:.1%}" for k, v in mc.breach_probability.items())
        return line + (f"; {self.note}" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "synthetic": True,
                "label": SYNTHETIC_LABEL,
                "generator": self.generator,
                "kind": self.kind,
                "source": self.source,
                "weights": self.weights,
                "left_out": self.left_out,
                "note": self.note,
                "monte_carlo": None if self.result is None else self.result.to_dict(),
            }
        )


def check_stress_generator(ws: Workspace, name: str) -> str:
    """``name``'s kind if it is a stored generator or a generator kind, else a typed error."""
    import json

    from alphaloop.app.synth import generator_dir, list_generators
    from alphaloop.synth import GENERATORS

    meta = generator_dir(ws, name) / "generator.json"
    if meta.is_file():
        return str(json.loads(meta.read_text())["kind"])
    if name in GENERATORS:
        return name
    stored = [g.name for g in list_generators(ws)]
    raise GeneratorNotFoundError(
        f"--stress-generator {name!r} is neither a fitted generator nor a generator kind",
        hint=f"kinds: {', '.join(sorted(GENERATORS))}"
        + (f"; fitted: {', '.join(stored)}" if stored else ""),
    )


def generator_stress_section(
    ws: Workspace,
    spec: StrategySpec,
    result: Any,
    name: str,
    *,
    n_paths: int,
    horizon: int,
    confidence: float,
    limits: StressLimits,
    seed: int,
) -> GeneratorStress:
    """Stress the portfolio ``result`` holds after its last bar over ``name``'s paths."""
    from alphaloop.app.backtests import load_strategy_data
    from alphaloop.app.risk_report_page import held_portfolio
    from alphaloop.app.synth import generator_dir, load_generator
    from alphaloop.risk import generator_stress
    from alphaloop.synth import make_generator

    kind = check_stress_generator(ws, name)
    stored = (generator_dir(ws, name) / "generator.json").is_file()
    source = "stored" if stored else "fitted on the strategy's data"
    held = held_portfolio(ws, spec, result)
    if held is None:
        return GeneratorStress(name, kind, source, note="no positions at the last bar: no stress")
    weights = {str(a): float(w) for a, w in held[0].items()}
    if stored:
        _, gen = load_generator(ws, name)
    else:
        info, panel = load_strategy_data(ws, spec)
        bars = [f for f in ("open", "high", "low", "close", "volume") if f in panel]
        gen = make_generator(kind).fit(
            panel.select(list(weights), fields=bars), source=f"{info.name} v{info.version}"
        )
    covered = {a: w for a, w in weights.items() if a in gen.assets_}
    left_out = {a: w for a, w in weights.items() if a not in gen.assets_}
    note = ""
    if left_out:
        note = (
            f"{len(left_out)} held asset(s) not in the generator left out "
            f"(weight {sum(left_out.values()):.2%}): {', '.join(sorted(left_out)[:5])}"
        )
    if not covered:
        return GeneratorStress(name, kind, source, {}, left_out, None, note or "nothing to stress")
    mc = generator_stress(
        gen,
        covered,
        n_paths=n_paths,
        horizon=horizon,
        confidence=confidence,
        limits=limits,
        seed=seed,
        source=f"generator {name!r} ({kind}), SYNTHETIC",
    )
    return GeneratorStress(name, kind, source, covered, left_out, mc, note)
