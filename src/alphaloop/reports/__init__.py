"""Building blocks shared by the HTML reports (factor and backtest tearsheets).

:mod:`alphaloop.reports.html` holds what every page needs and nothing
specific to one of them: the common stylesheet, plotly.js for offline pages,
figure-to-HTML conversion, compact time axes and atomic file writes.
"""
