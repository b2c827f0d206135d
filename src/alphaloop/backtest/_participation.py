"""The vectorized simulator's participation cap seen from Python: its checks and its note.

The rules of the cap are in :mod:`alphaloop.backtest._capped_kernel`.
"""

from __future__ import annotations

import numpy as np

from alphaloop.errors import BacktestError

__all__ = ["check_participation", "participation_note"]


def check_participation(participation: float | None, stops: bool) -> None:
    """A cap must be a fraction in (0, 1]; stop exits are not capped, so both are refused."""
    if participation is None:
        return
    if not (np.isfinite(participation) and 0.0 < participation <= 1.0):
        raise BacktestError(
            f"participation must be a fraction of each bar's volume in (0, 1], got {participation}",
            hint="e.g. 0.1 trades at most 10% of a bar's volume per asset; None = no cap",
        )
    if stops:
        raise BacktestError(
            "stop loss, take profit and trailing stops exit whole positions at their level; "
            "the vectorized simulator does not cap them by participation",
            hint="drop the stops or the participation cap, or run the event engine",
        )


def participation_note(assets: tuple[str, ...], pending: np.ndarray, participation: float) -> str:
    """What the participation cap left undone at the end of the run."""
    text = (
        f"participation cap {participation:g} of each bar's volume per asset; "
        "remainders carried to the next bars"
    )
    working = np.flatnonzero(pending)
    if working.size:
        names = ", ".join(assets[j] for j in working[:5])
        more = ", ..." if working.size > 5 else ""
        text += f"; still working at the end: {names}{more}"
    return text
