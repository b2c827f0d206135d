"""The meta-controller of a regime ensemble: which agent (or what mix) trades each bar.

Each agent runs its own shadow book; its per-bar returns (net of costs) are
known at each bar's close. At bar ``t`` the controller scores every agent by
the annualised mean of its returns over the last ``lookback`` bars, up to and
including ``t``, that had the same regime label as ``t`` (labels are causal),
and either follows the best one (``select``) or mixes them by a softmax of
``temperature`` times the scores (``weight``). Until an agent has ``min_bars``
such bars the controller follows the agent trained for the current regime.
Nothing at ``t`` reads a return after ``t``, so the choice made after the close
of ``t`` fills at ``t + 1`` like any decision.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["agent_mix", "ensemble_weights"]


def agent_mix(
    agent_returns: np.ndarray,
    regimes: np.ndarray,
    agent_regimes: np.ndarray,
    *,
    lookback: int = 63,
    mode: Literal["select", "weight"] = "select",
    temperature: float = 50.0,
    periods_per_year: float = 252.0,
    min_bars: int = 5,
) -> np.ndarray:
    """Weights of each agent at each bar, shape (time, n_agents), rows summing to 1.

    Parameters
    ----------
    agent_returns : ndarray, shape (time, n_agents)
        Simple per-bar returns of each agent's own book, net of costs (NaN = no book).
    regimes : ndarray of int, shape (time,)
        Causal regime label of each bar; ``-1`` is warm-up.
    agent_regimes : ndarray of int, shape (n_agents,)
        The regime each agent was trained for.
    """
    r = np.asarray(agent_returns, dtype=float)
    labels = np.asarray(regimes, dtype=np.int64)
    own = np.asarray(agent_regimes, dtype=np.int64)
    n_t, n_k = r.shape
    if labels.shape != (n_t,) or own.shape != (n_k,):
        raise ValueError("regimes must have one label per bar and agent_regimes one per agent")
    mix = np.zeros((n_t, n_k))
    for t in range(n_t):
        same = np.flatnonzero(labels[: t + 1] == labels[t])[-lookback:]
        window = r[same]
        counts = np.isfinite(window).sum(axis=0)
        fallback = own == labels[t]
        if labels[t] < 0 or counts.min() < min_bars:
            mix[t] = fallback / fallback.sum() if fallback.any() else 1.0 / n_k
            continue
        score = np.nanmean(window, axis=0) * periods_per_year
        if mode == "select":
            mix[t, int(np.argmax(score))] = 1.0
        else:
            z = temperature * (score - score.max())
            e = np.exp(z)
            mix[t] = e / e.sum()
    return mix


def ensemble_weights(agent_weights: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """The ensemble's target weights: ``sum_k mix[t, k] * agent_weights[k, t, :]``.

    ``agent_weights`` has shape (n_agents, time, n_assets); NaN counts as 0.
    """
    w = np.nan_to_num(np.asarray(agent_weights, dtype=float))
    return np.einsum("tk,kta->ta", mix, w)
