"""Factor mining: genetic programming over the expression language.

Candidates are expression trees generated and varied under a typed grammar,
canonicalised and hashed so that an expression is scored once, and scored
by rank IC on purged training folds of the search span; validation folds
decide which factors enter a synergistic pool. See docs/mining.md.
"""
