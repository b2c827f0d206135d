"""Building blocks shared by the HTML reports (factor and backtest tearsheets).

:mod:`alphaloop.reports.html` holds what every page needs and nothing
specific to one of them: the common stylesheet, plotly.js for offline pages,
figure-to-HTML conversion, compact time axes and atomic file writes.
"""

from alphaloop.reports.html import (
    BASE_CSS,
    NA,
    axis_values,
    chart_layout,
    figures_to_html,
    format_cell,
    format_flag,
    format_number,
    format_percent,
    plotly_js,
    write_atomic,
)

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
