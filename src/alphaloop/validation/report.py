"""The validation section of the HTML report: statistics, gates and the verdict."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["validation_section"]

_ROWS = (
    ("psr", "probabilistic Sharpe ratio (vs 0)", "{:.3f}"),
    ("dsr", "deflated Sharpe ratio", "{:.3f}"),
    ("n_trials", "strategies tried on this dataset", "{:.0f}"),
    ("effective_trials", "effective number of trials", "{:.1f}"),
    ("sr0_annual", "expected best Sharpe of as many skill-less trials (annual)", "{:.2f}"),
    ("pbo", "probability of backtest overfitting", "{:.3f}"),
    ("oos_is_ratio", "walk-forward OOS / IS Sharpe ratio", "{:.2f}"),
    ("spa_p_value", "Hansen SPA p-value (family vs benchmark)", "{:.3f}"),
    ("regime_share", "share of regimes with a positive Sharpe ratio", "{:.2f}"),
    ("min_track_record", "minimum track record length (bars)", "{:,.0f}"),
    ("n_obs", "bars in the backtest", "{:,.0f}"),
)


def _fmt(value: Any, pattern: str) -> str:
    if value is None:
        return "not measured"
    return pattern.format(value)


def validation_section(doc: dict[str, Any]) -> tuple[str, str]:
    """``(title, html)`` for :func:`~alphaloop.backtest.tearsheet.render_backtest_report`.

    ``doc`` is :meth:`ValidationReport.to_dict`; every text is escaped.
    """
    verdict = "PASSED" if doc["passed"] else "FAILED"
    colour = "#1a7f37" if doc["passed"] else "#b42318"
    parts = [
        f'<p style="font-weight:bold;color:{colour}">Validation {verdict}</p>',
        "<ul>" + "".join(f"<li>{escape(r)}</li>" for r in doc["reasons"]) + "</ul>",
        "<table><tbody>",
    ]
    for key, label, pattern in _ROWS:
        parts.append(
            f"<tr><th>{escape(label)}</th><td>{escape(_fmt(doc.get(key), pattern))}</td></tr>"
        )
    fam = doc.get("family") or {}
    parts.append(
        "<tr><th>trial family (PBO, walk-forward, SPA)</th><td>"
        f"{fam.get('size', 0)} strategies: {fam.get('recorded_trials', 0)} recorded trials, "
        f"{fam.get('neighbours', 0)} neighbours of this spec</td></tr>"
    )
    perm = doc.get("permutation") or {}
    perm_text = (
        f"{perm['p_value']:.3f} (rank IC {perm.get('observed_rank_ic', float('nan')):.4f}, "
        f"{perm.get('n_dates')} rebalances)"
        if perm.get("p_value") is not None
        else perm.get("note", "not measured")
    )
    parts.append(f"<tr><th>signal permutation test p-value</th><td>{escape(perm_text)}</td></tr>")
    parts.append("</tbody></table>")
    regimes = (doc.get("regimes") or {}).get("regimes") or []
    if regimes:
        parts.append(
            "<h3>Regimes</h3><table><thead><tr><th>kind</th><th>regime</th><th>bars</th>"
            "<th>annual return</th><th>Sharpe</th><th>acceptable</th></tr></thead><tbody>"
        )
        for reg in regimes:
            ann = reg.get("annual_return")
            sharpe = reg.get("sharpe_ratio")
            parts.append(
                "<tr>"
                f"<td>{escape(str(reg.get('kind')))}</td><td>{escape(str(reg.get('name')))}</td>"
                f"<td>{reg.get('n_bars', '')}</td>"
                f"<td>{'' if ann is None else f'{ann:.1%}'}</td>"
                f"<td>{'' if sharpe is None else f'{sharpe:.2f}'}</td>"
                f"<td>{escape(str(reg.get('acceptable')))}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append(
        "<p>Gates and thresholds: "
        + escape(", ".join(f"{g['name']} {'ok' if g['passed'] else 'FAIL'}" for g in doc["gates"]))
        + "</p>"
    )
    return "Validation", "".join(parts)
