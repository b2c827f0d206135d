"""Score fitted generators against the stylized facts, side by side with the real data.

``score_generators(ws, name)`` measures the real returns the generator
``name`` was fitted on and ``n_paths`` paths (as long as the real data) of
every stored generator fitted on the same dataset and assets, with the
same seed. :func:`write_score_report` draws it as one self-contained HTML page
(the facts table, then a plot per fact).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaloop.app.synth import list_generators, load_generator
from alphaloop.app.workspace import Workspace
from alphaloop.errors import SynthError
from alphaloop.reports import (
    BASE_CSS,
    NA,
    chart_layout,
    figures_to_html,
    format_number,
    plotly_js,
    write_atomic,
)
from alphaloop.synth import FACTS, FactsReport, stylized_facts

__all__ = ["SynthScore", "score_generators", "write_score_report"]

#: Most bars per scored path (a long dataset is scored on its last bars).
MAX_SCORE_BARS = 5_040


@dataclass(frozen=True)
class SynthScore:
    """The facts of the real data and of each generator's paths.

    Attributes
    ----------
    dataset : str
        ``name vN`` the generators were fitted on.
    real : FactsReport
    generators : dict of str to FactsReport
        By generator name (kind in the label).
    n_paths, length, seed : int
    """

    dataset: str
    real: FactsReport
    generators: dict[str, FactsReport]
    n_paths: int
    length: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "n_paths": self.n_paths,
            "length": self.length,
            "seed": self.seed,
            "real": self.real.to_dict(),
            "generators": {k: v.to_dict() for k, v in self.generators.items()},
        }


def score_generators(ws: Workspace, name: str, *, n_paths: int = 20, seed: int = 0) -> SynthScore:
    """Facts of the real data behind generator ``name`` and of every comparable generator."""
    if isinstance(n_paths, bool) or not isinstance(n_paths, int) or not 1 <= n_paths <= 1000:
        raise SynthError(f"n_paths must be between 1 and 1,000, got {n_paths!r}")
    record, gen = load_generator(ws, name)
    real = gen.returns_[-MAX_SCORE_BARS:]
    length = real.shape[0]
    peers = [
        g.name
        for g in list_generators(ws)
        if g.dataset == record.dataset and g.version == record.version and g.assets == record.assets
    ]
    reports: dict[str, FactsReport] = {}
    for peer in peers:
        peer_record, peer_gen = load_generator(ws, peer)
        paths = peer_gen.sample_returns(n_paths, length, seed)
        label = f"{peer} ({peer_record.kind})"
        reports[peer] = stylized_facts(paths, reference=real, label=label)
    real_report = stylized_facts(real, reference=real, label=f"real: {record.dataset}")
    return SynthScore(
        dataset=f"{record.dataset} v{record.version}",
        real=real_report,
        generators=reports,
        n_paths=n_paths,
        length=length,
        seed=seed,
    )


def _e(x: Any) -> str:
    return html.escape(str(x))


def _verdict(passed: bool | None) -> str:
    return NA if passed is None else ("pass" if passed else "FAIL")


def _table(score: SynthScore) -> str:
    sources = [score.real, *score.generators.values()]
    head = "".join(f"<th>{_e(s.label)}</th>" for s in sources)
    rows = []
    for name in FACTS:
        fact = score.real[name]
        cells = []
        for s in sources:
            f = s[name]
            cells.append(f"<td>{_e(format_number(f.value, 3))} ({_verdict(f.passed)})</td>")
        rows.append(
            f"<tr><td>{_e(name.replace('_', ' '))}<br><span class='note'>"
            f"{_e(fact.statistic)}; pass {_e(fact.rule)}</span></td>{''.join(cells)}</tr>"
        )
    total = "".join(f"<td>{s.passed} of {s.applicable}</td>" for s in sources)
    return (
        f"<table><thead><tr><th>fact</th>{head}</tr></thead><tbody>{''.join(rows)}"
        f"<tr><td><b>facts passed</b></td>{total}</tr></tbody></table>"
    )


def _figures(score: SynthScore) -> dict[str, Any]:
    import plotly.graph_objects as go

    sources = [score.real, *score.generators.values()]
    figs: dict[str, Any] = {}
    for key, fact, detail, title in (
        ("acf_abs", "volatility_clustering", "acf_abs", "Volatility clustering: ACF of |r| by lag"),
        ("acf_sq", "volatility_clustering", "acf_sq", "ACF of r squared by lag"),
        ("acf", "no_autocorrelation", "acf", "Linear autocorrelation: ACF of r by lag"),
        ("leverage", "leverage_effect", "leverage", "Leverage effect: corr(r_t, |r_t+k|) by lag"),
    ):
        fig = go.Figure()
        for s in sources:
            curve = s[fact].details.get(detail, [])
            fig.add_trace(go.Scatter(x=list(range(1, len(curve) + 1)), y=curve, name=s.label))
        fig.update_layout(**chart_layout(title, width="half"))
        fig.update_xaxes(title="lag (bars)")
        figs[key] = fig
    for key, fact, detail, title in (
        ("kurtosis", "heavy_tails", None, "Heavy tails: excess kurtosis"),
        ("hill", "heavy_tails", "hill_alpha", "Hill tail index (lower: heavier)"),
        ("aggregation", "aggregational_gaussianity", None, "Excess kurtosis of 20-bar sums"),
        ("asymmetry", "gain_loss_asymmetry", None, "Gain/loss asymmetry: |q1%| / q99%"),
        ("correlation", "cross_correlation", None, "Mean pairwise correlation"),
        ("drawdown_corr", "correlation_in_drawdowns", None, "Correlation rise in falling windows"),
        ("ks", "distance_ks", None, "KS distance to the real returns"),
    ):
        values = [s[fact].value if detail is None else s[fact].details.get(detail) for s in sources]
        fig = go.Figure(go.Bar(x=[s.label for s in sources], y=values))
        fig.update_layout(**chart_layout(title, width="half"))
        figs[key] = fig
    return figs


def write_score_report(score: SynthScore, path: Path) -> Path:
    """Write the score as one self-contained HTML page (works offline); returns the path."""
    figures = figures_to_html(_figures(score))
    grid = "".join(f'<div class="figure">{v}</div>' for v in figures.values())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Synthetic data: stylized facts of {_e(score.dataset)}</title>
<style>{BASE_CSS}</style>
<script type="text/javascript">{plotly_js()}</script></head><body>
<h1>Synthetic data: stylized facts</h1>
<p class="subtitle">Real data: {_e(score.dataset)}, {score.length:,} bars of
{score.real.n_assets} asset(s). Each generator: {score.n_paths} paths of the same length,
seed {score.seed}.</p>
<section class="caveats" id="synthetic"><h2>Synthetic data</h2>
<p>Every column but the first is drawn by a generator: not market data. A statistic is
measured per path and asset, summarised by its median over paths and mean over assets;
the rules are those of real daily stock returns, so the real data is judged by them too.
</p></section>
{_table(score)}
<div class="grid">{grid}</div>
</body></html>"""
    target = Path(path)
    write_atomic(target, page)
    return target
