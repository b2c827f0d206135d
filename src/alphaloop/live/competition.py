"""Competition mode: agents side by side on the same bars, ranked by deflated Sharpe.

Picking the best of N competitors by raw Sharpe is selection: the winner's Sharpe is
biased up by the number of competitors. The leaderboard therefore ranks by the
deflated Sharpe ratio (Bailey & López de Prado) with every competitor counted as a
trial and the variance of their Sharpe ratios as the trials' dispersion, and shows
return, Sharpe, maximum drawdown and win rate beside it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from alphaloop.errors import AlphaloopError

__all__ = ["CompetitionError", "leaderboard"]


class CompetitionError(AlphaloopError):
    """A competition was given bad input (too few competitors, bars or bad returns)."""


def leaderboard(
    returns: Mapping[str, pd.Series],
    *,
    periods_per_year: float = 252.0,
    n_trials: int | None = None,
    min_bars: int = 20,
) -> pd.DataFrame:
    """Rank competitors by deflated Sharpe ratio on the bars they all share.

    Parameters
    ----------
    returns : mapping of name to Series
        Net simple returns per bar (NaN where a competitor did not exist).
    periods_per_year : float, default 252
        Annualisation of return and Sharpe.
    n_trials : int, optional
        Trials to deflate for; default the number of competitors. Pass more when the
        competitors were themselves chosen from a larger search (never fewer).
    min_bars : int, default 20
        Fewest shared bars.

    Returns
    -------
    DataFrame
        Index competitor name, best first; columns ``total_return``,
        ``annual_return``, ``sharpe`` (annualised), ``max_drawdown`` (positive
        fraction), ``win_rate`` (share of bars with a positive return among bars with
        a non-zero one), ``dsr`` (probability in [0, 1]), ``bars``, ``n_trials``.

    Raises
    ------
    CompetitionError
        Fewer than two competitors, fewer than ``min_bars`` shared bars, infinite
        returns or ``n_trials`` below the number of competitors.
    """
    from alphaloop.validation.sharpe import deflated_sharpe_ratio

    if len(returns) < 2:
        raise CompetitionError(f"a competition needs at least two competitors, got {len(returns)}")
    frame = pd.DataFrame({str(k): v for k, v in returns.items()}).dropna()
    if len(frame) < min_bars:
        raise CompetitionError(
            f"the competitors share {len(frame)} bars with a return; needs {min_bars}"
        )
    values = frame.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise CompetitionError("returns hold infinite values")
    trials = len(frame.columns) if n_trials is None else int(n_trials)
    if trials < len(frame.columns):
        raise CompetitionError(
            f"n_trials {trials} is below the {len(frame.columns)} competitors: every one is a trial"
        )
    sd = values.std(axis=0, ddof=1)
    sr = np.divide(values.mean(axis=0), sd, out=np.zeros(values.shape[1]), where=sd > 0)
    var_trials = float(np.var(sr, ddof=1))
    rows = {}
    for j, name in enumerate(frame.columns):
        r = values[:, j]
        equity = np.cumprod(1.0 + r)
        dd = float(np.max(1.0 - equity / np.maximum.accumulate(equity)))
        nonzero = r[r != 0]
        centred = r - r.mean()
        m2 = float(np.mean(centred**2))
        skew = float(np.mean(centred**3) / m2**1.5) if m2 > 0 else 0.0
        kurt = float(np.mean(centred**4) / m2**2) if m2 > 0 else 3.0
        dsr = deflated_sharpe_ratio(float(sr[j]), trials, var_trials, len(r), skew, kurt).dsr
        total = float(equity[-1] - 1.0)
        rows[name] = {
            "total_return": total,
            "annual_return": float((1.0 + total) ** (periods_per_year / len(r)) - 1.0)
            if total > -1
            else -1.0,
            "sharpe": float(sr[j] * np.sqrt(periods_per_year)),
            "max_drawdown": dd,
            "win_rate": float((nonzero > 0).mean()) if nonzero.size else float("nan"),
            "dsr": float(dsr),
            "bars": len(r),
            "n_trials": trials,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "competitor"
    table["_name"] = table.index
    table = table.sort_values(["dsr", "sharpe", "_name"], ascending=[False, False, True])
    return table.drop(columns="_name")
