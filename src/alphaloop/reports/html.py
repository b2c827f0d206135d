"""Pieces every self-contained (offline) HTML report uses.

Plotly and jinja2 are imported inside the functions that need them, so
importing this module stays cheap for the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from alphaloop.files import write_atomic  # re-exported: reports write through it

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

__all__ = ["BASE_CSS", "axis_values", "figures_to_html", "plotly_js", "write_atomic"]

# plotly.js names a CDN as the default source of geo map outlines. The
# reports draw no maps, and an offline page should not mention a CDN at all.
_TOPOJSON_DEFAULT = "https://cdn.plot.ly/un/"
_TOPOJSON_LOCAL = "topojson/"

_FIGURE_CONFIG = {"displaylogo": False, "responsive": True, "topojsonURL": _TOPOJSON_LOCAL}

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
"""


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
