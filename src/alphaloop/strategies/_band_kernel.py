"""The per-asset entry/exit state machine of the band templates, and its Python twin.

Each asset is a slot with a state: +1 long, -1 short, 0 flat. On every bar,
in this order:

1. ``flat_now`` (the asset left the universe): the state becomes 0.
2. ``decide`` false (no indicator, no close): the state is kept.
3. A long exits on ``long_stop`` (and its side is disarmed) or on
   ``long_exit``; a short mirrored.
4. A side is re-armed on a bar where its entry condition is false (after a
   stop, a new entry needs the indicator to leave the entry zone first).
5. A flat slot (also one that exited on this bar) enters long on
   ``long_entry`` when armed, else short on ``short_entry`` when shorts are
   on and the short side is armed.

:func:`band_states` (numba) and :func:`band_states_py` (plain Python) agree
exactly; a test holds them to it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["band_states", "band_states_py"]


def band_states_py(
    decide: np.ndarray,
    flat_now: np.ndarray,
    long_entry: np.ndarray,
    long_exit: np.ndarray,
    long_stop: np.ndarray,
    short_entry: np.ndarray,
    short_exit: np.ndarray,
    short_stop: np.ndarray,
    shorts: bool,
    out: np.ndarray,
) -> None:
    """Fill ``out`` (time, asset; int8) with each asset's state after each bar.

    Every input is a bool array of shape (time, asset); see the module for the rules.
    """
    n_times, n_assets = decide.shape
    for j in range(n_assets):
        state = 0
        armed_long = True
        armed_short = True
        for t in range(n_times):
            if flat_now[t, j]:
                state = 0
            elif decide[t, j]:
                if state == 1:
                    if long_stop[t, j]:
                        state = 0
                        armed_long = False
                    elif long_exit[t, j]:
                        state = 0
                elif state == -1:
                    if short_stop[t, j]:
                        state = 0
                        armed_short = False
                    elif short_exit[t, j]:
                        state = 0
                if not long_entry[t, j]:
                    armed_long = True
                if not short_entry[t, j]:
                    armed_short = True
                if state == 0:
                    if armed_long and long_entry[t, j]:
                        state = 1
                    elif shorts and armed_short and short_entry[t, j]:
                        state = -1
            out[t, j] = state


band_states = njit(cache=True, nogil=True)(band_states_py)
