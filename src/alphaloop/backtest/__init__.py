"""Backtesting: shared cost and fill models, a vectorized simulator, an event-driven
engine with an order management system, metrics, a lookahead scan and tearsheets."""
