"""Pieces every self-contained (offline) HTML report uses.

Plotly and jinja2 are imported inside the functions that need them, so
importing this module stays cheap for the CLI.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.files import write_atomic  # re-exported: reports write through it

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

__all__ = [
    "BASE_CSS",
    "NA",
    "axis_values",
    "chart_layout",
    "figures_to_html",
    "format_cell",
    "format_flag",
    "format_number",
    "format_percent",
    "plotly_js",
    "write_atomic",
]

# plotly.js names a CDN as the default source of geo map outlines. The
# reports draw no maps, and an offline page should not mention a CDN at all.
_TOPOJSON_DEFAULT = "https://cdn.plot.ly/un/"
_TOPOJSON_LOCAL = "topojson/"

_FIGURE_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "topojsonURL": _TOPOJSON_LOCAL,
    # a shorter toolbar: box and lasso selection do nothing in a report
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}

#: The stylesheet both tearsheets start from, so the reports look alike.
BASE_CSS = """\
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem; color: #1d2733; }
h1 { margin-bottom: 0.2rem; }
.subtitle { color: #5b6877; margin-top: 0; }
.caveats { border: 2px solid #b3261e; background: #fdecea; padding: 0.8rem 1.2rem;
           border-radius: 6px; margin: 1rem 0; }
.caveats h2 { color: #b3261e; margin: 0 0 0.4rem 0; font-size: 1.1rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.2rem 0; }
th, td { border-bottom: 1px solid #d9dee4; padding: 0.25rem 0.8rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.figure { margin: 0.5rem 0 1.5rem 0; height: 420px; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
dl.definitions dt { font-weight: 600; margin-top: 0.4rem; }
dl.definitions dd { margin-left: 1rem; color: #33404d; }
.note { color: #5b6877; font-size: 0.9rem; }
.mode { border: 2px solid #1f5fa8; background: #eef4fb; padding: 0.8rem 1.2rem;
        border-radius: 6px; margin: 1rem 0; }
.mode h2 { color: #1f5fa8; margin: 0 0 0.4rem 0; font-size: 1.1rem; }
"""


#: What a table shows for a missing or undefined value.
NA = "—"

# The modebar (plotly's toolbar) sits in the top-right corner of a chart, about
# 30 px high. Titles start below it and are wrapped to the chart's width, so
# the toolbar never covers them and long titles are not cut off.
_MODEBAR_PX = 30
_TITLE_LINE_PX = 18
_TITLE_CHARS = {"full": 100, "half": 50}


def chart_layout(title: str, *, width: str = "full", **extra: Any) -> dict[str, Any]:
    """Layout of a report chart: the title left-aligned under the toolbar, wrapped to fit.

    Parameters
    ----------
    title : str
        Plain text; wrapped at word boundaries to the chart's width.
    width : {"full", "half"}, default="full"
        ``"half"`` for a chart in a two-column grid (wraps sooner).
    **extra
        More layout keys (``yaxis_type="log"``, ``barmode="group"``...);
        ``margin`` and ``yaxis`` dicts are merged with the defaults.

    The top margin grows with the number of title lines. Hover labels of
    the y axis show 4 significant digits.
    """
    lines = textwrap.wrap(title, _TITLE_CHARS[width]) or [""]
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "title": {
            "text": "<br>".join(lines),
            "x": 0,
            "xanchor": "left",
            "xref": "paper",
            "y": 1,
            "yanchor": "top",
            "yref": "container",
            "pad": {"t": _MODEBAR_PX},
            "font": {"size": 14},
        },
        "margin": {"l": 60, "r": 20, "t": _MODEBAR_PX + _TITLE_LINE_PX * len(lines) + 16, "b": 40},
        "yaxis": {"hoverformat": ".4~g"},
    }
    for key, value in extra.items():
        if key in ("margin", "yaxis") and isinstance(value, Mapping):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def format_number(value: Any, sig: int = 4, *, decimals: int | None = None) -> str:
    """A number for a table: ``sig`` significant digits, or ``decimals`` fixed decimals.

    Thousands are separated by commas; magnitudes below 1e-4 or from 1e12
    use an exponent. ``None`` and NaN give :data:`NA`, booleans ``yes`` /
    ``no``, integers their digits. No ``+`` sign is added: a sign belongs
    only on quantities that can be negative and is asked for with
    :func:`format_percent`'s ``signed``.
    """
    if value is None or isinstance(value, bool):
        return format_flag(value)
    if isinstance(value, int):
        return f"{value:,}"
    x = float(value)
    if math.isnan(x):
        return NA
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if decimals is not None:
        return f"{x:,.{decimals}f}"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude < -4 or magnitude >= 12:
        return f"{x:.{sig - 1}e}"
    # rounding can carry into the next power of ten (9.9996 -> 10.00)
    places = max(0, sig - 1 - magnitude)
    text = f"{x:,.{places}f}"
    if places and len(text.replace("-", "").replace(",", "").replace(".", "").lstrip("0")) > sig:
        text = f"{x:,.{places - 1}f}"
    return text


def format_percent(value: Any, sig: int = 3, *, signed: bool = False) -> str:
    """A decimal fraction as a percentage with ``sig`` significant digits (0.0123 -> "1.23%").

    ``signed=True`` writes a ``+`` before positive values: use it only for
    quantities that can be negative (returns, alpha), never for volatility,
    turnover or shares.
    """
    if value is None or isinstance(value, bool):
        return format_flag(value)
    x = float(value)
    if math.isnan(x):
        return NA
    text = format_number(100 * x, sig)
    if signed and x > 0:
        text = "+" + text
    return text + "%"


def format_flag(value: bool | None) -> str:
    """``yes`` / ``no`` for a boolean (never ``True`` / ``False``); :data:`NA` for None."""
    if value is None:
        return NA
    return "yes" if value else "no"


def format_cell(value: Any) -> str:
    """Any table value as text: booleans as yes/no, numbers by :func:`format_number`."""
    if value is None or isinstance(value, bool | int | float):
        return format_number(value)
    return str(value)


def plotly_js() -> str:
    """The plotly.js bundle to inline in a page, without the CDN it names by default."""
    import plotly.offline

    return plotly.offline.get_plotlyjs().replace(_TOPOJSON_DEFAULT, _TOPOJSON_LOCAL)


def figures_to_html(figures: Mapping[str, Figure]) -> dict[str, str]:
    """Each figure as a ``<div>`` (no plotly.js; the page inlines it once).

    The div of figure ``key`` has the id ``fig-<key>`` with underscores
    turned into hyphens (``"ic_decay"`` -> ``"fig-ic-decay"``); it fills the
    height of its container.
    """
    return {
        key: fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{key.replace('_', '-')}",
            config=_FIGURE_CONFIG,
            default_height="100%",
        )
        for key, fig in figures.items()
    }


def axis_values(index: pd.Index) -> list[str] | pd.Index:
    """Timestamps as compact ISO text (dates only when every stamp is at midnight UTC).

    Time zone aware stamps are converted to UTC first; an index that is not a
    :class:`~pandas.DatetimeIndex` is returned unchanged.
    """
    if not isinstance(index, pd.DatetimeIndex):
        return index
    utc = index.tz_convert("UTC") if index.tz is not None else index
    midnight = bool((utc == utc.normalize()).all())
    return list(utc.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S"))
