"""Empirical VaR and CVaR of a sample of losses (the quantile convention shared by all methods)."""

from __future__ import annotations

import numpy as np

from alphaloop.risk._inputs import as_return_vector, check_confidence

__all__ = ["historical_var"]


def historical_var(losses: np.ndarray, confidence: float) -> tuple[float, float]:
    """Empirical (VaR, CVaR) of a sample of losses (positive = loss).

    VaR is the lower ``confidence``-quantile of the losses,
    ``inf{l : F(l) >= confidence}``; CVaR is ``VaR + E[(L - VaR)+] / (1 -
    confidence)``. With n losses and an integer ``k = (1 - confidence) n``
    the VaR is the (k+1)-th largest loss and the CVaR the mean of the k
    largest.
    """
    c = check_confidence(confidence)
    x = np.sort(as_return_vector(losses, field="losses", min_obs=1))
    n = x.size
    # smallest index i (0-based) with (i + 1) / n >= confidence, guarding float noise
    i = int(np.ceil(c * n - 1e-9)) - 1
    var = float(x[min(max(i, 0), n - 1)])
    cvar = var + float(np.mean(np.maximum(x - var, 0.0))) / (1.0 - c)
    return var, cvar
