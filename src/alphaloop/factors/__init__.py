"""Factors: an expression language (Qlib-compatible syntax), a factor library, analysis."""
