"""Participation caps of the compiled simulators: how much of a trade fits in one bar.

A participation cap ``p`` in (0, 1] lets at most ``p * volume`` shares of an
asset trade on a bar (``volume``: the shares the bar traded; a bar without a
positive volume trades nothing), the quantity rounded toward zero to the
asset's lot. It is the rule of the simulated broker's
:meth:`~alphaloop.execution.fills.AuctionDesk._capacity`, written once for
the numba kernels of the vectorized backtester
(:mod:`alphaloop.backtest._capped_kernel`) and of the RL environments
(:func:`alphaloop.rl._kernel._rebalance_capped`), which both carry what did not fit to the
next bar.

numba's on-disk cache does not notice edits to a function called from
another module: after changing this file, delete the ``__pycache__/*.nbi`` /
``*.nbc`` files of :mod:`alphaloop.backtest` and :mod:`alphaloop.rl`.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from alphaloop.execution.rebalance import round_lot

__all__ = ["DUST", "bar_room", "capped_quantity", "remainder"]

DUST = 1e-9
"""A remainder at most this fraction of the quantity it is left from is done (float dust)."""


@register_jitable
def bar_room(volume: np.ndarray, participation: float, room: np.ndarray) -> None:
    """``room[j] = participation * volume[j]`` shares, 0 where the volume is not positive."""
    for j in range(room.shape[0]):
        v = volume[j]
        room[j] = participation * v if v > 0.0 else 0.0


@register_jitable
def capped_quantity(want: float, room: float, lot: float) -> float:
    """The signed part of ``want`` shares that fits in ``room`` shares, rounded to the lot."""
    q = round_lot(min(abs(want), max(room, 0.0)), lot)
    return q if want > 0.0 else -q


@register_jitable
def remainder(want: float, filled: float) -> float:
    """What is left of ``want`` shares after ``filled`` (0 for float dust)."""
    rest = want - filled
    if abs(rest) <= DUST * abs(want):
        return 0.0
    return rest
