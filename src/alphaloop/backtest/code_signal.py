"""A spec's ``signal: {code: ...}``: Python strategy code run in the sandbox on a panel.

The code follows the sandbox's contract (:mod:`alphaloop.sandbox`): it
defines ``signal(close, high=None, low=None, volume=None, open=None)``, gets
the panel's fields of those names as ``float64`` (time, asset) arrays (the
ones the panel has; ``None`` for the others) and returns a signal of the same
shape, higher = more attractive, NaN = no signal. It sees exactly the arrays
passed here: the rows of the panel the caller loaded (never the sealed
holdout, which the data layer does not load), and no name, date, path or
setting.

Every call starts a fresh child process (about 0.15 s), so no state survives
from one run to the next: a re-run of the lookahead scan on a cut panel
cannot reuse what an earlier run saw.

A failure is a :class:`CodeSignalError` whose ``path`` is ``signal.code``;
the sandbox's own error (a refused construct, a CPU, memory or wall-clock
limit, an exception of the code, a bad output) is its ``__cause__`` and is
summed up in ``reason``, ``limit`` and ``line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.sandbox import (
    INPUT_FIELDS,
    SandboxError,
    SandboxLimitExceeded,
    run_strategy_code,
)

__all__ = [
    "CODE_PATH",
    "CODE_SCAN_DECISION_POINTS",
    "CodeLimits",
    "CodeSignalError",
    "code_inputs",
    "code_signal_values",
]

CODE_PATH = "signal.code"
"""Where a code signal lives in a spec (the path errors name)."""

CODE_SCAN_DECISION_POINTS = 40
"""Most rebalance bars the lookahead scan re-runs one by one for a code signal.

Each re-run starts a sandbox process (about 0.15 s plus the code's own time),
so the scan thins the decision bars to every ``g``-th beyond this (see
:mod:`alphaloop.backtest.lookahead`); its ``coverage_horizon`` says how far
ahead a read must reach to be caught on every bar. A read of the next bar on
every bar (``np.roll(close, -1, axis=0)``) is caught at the first truncation.
"""


@dataclass(frozen=True)
class CodeLimits:
    """Resource limits of one run of a code signal (:func:`~alphaloop.sandbox.run_strategy_code`).

    Attributes
    ----------
    cpu_seconds : float
        CPU time of the strategy, seconds.
    memory_mb : int
        Address space the strategy may add, MiB.
    wall_seconds : float
        Wall-clock time of the whole child process, start-up included, seconds.
    """

    cpu_seconds: float = 5.0
    memory_mb: int = 512
    wall_seconds: float = 10.0


class CodeSignalError(BacktestError):
    """A code signal was refused by the sandbox, hit a limit, raised or returned a bad value.

    Attributes
    ----------
    path : str
        ``signal.code``.
    reason : str
        The sandbox error's class name (``SandboxViolation``,
        ``SandboxLimitExceeded``, ``SandboxOutputError``, ``SandboxError``).
    limit : str or None
        ``"cpu"``, ``"memory"`` or ``"wall"`` for a limit, else None.
    line : int or None
        1-based line of the code, when known.
    """

    def __init__(
        self, error: SandboxError, shape: tuple[int, int], limits: CodeLimits | None = None
    ) -> None:
        rows, assets = shape
        hint = error.hint
        if isinstance(error, SandboxLimitExceeded):
            limits = limits or CodeLimits()
            hint = (
                "look for a loop that never ends, vectorize with numpy, or avoid large "
                f"intermediates: a code signal may use {limits.cpu_seconds:g} CPU seconds, "
                f"{limits.memory_mb} MiB and {limits.wall_seconds:g} s per run"
            )
        super().__init__(
            f"{CODE_PATH}: {error.message} (on {rows} bars x {assets} assets)", hint=hint
        )
        self.path = CODE_PATH
        self.reason = type(error).__name__
        self.limit = error.limit if isinstance(error, SandboxLimitExceeded) else None
        self.line = error.line

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "path": self.path,
            "reason": self.reason,
            "limit": self.limit,
            "line": self.line,
        }


def code_inputs(panel: Panel) -> dict[str, np.ndarray]:
    """The arrays a code signal receives: the panel's fields named in the contract.

    ``close`` (required) and whichever of ``high``, ``low``, ``volume``,
    ``open`` the panel has, as ``float64`` (time, asset).
    """
    return {
        name: np.asarray(panel[name], dtype=np.float64) for name in INPUT_FIELDS if name in panel
    }


def code_signal_values(code: str, panel: Panel, limits: CodeLimits | None = None) -> np.ndarray:
    """Run a code signal on ``panel`` in the sandbox: its values, shape (time, asset).

    Raises
    ------
    CodeSignalError
        The sandbox refused the code or stopped it, the code raised or
        returned a bad value; or the panel has no ``close``.
    """
    limits = limits or CodeLimits()
    shape = (panel.n_times, panel.n_assets)
    if "close" not in panel:
        raise CodeSignalError(SandboxError("the panel has no 'close' field"), shape)
    try:
        return run_strategy_code(
            code,
            code_inputs(panel),
            cpu_seconds=limits.cpu_seconds,
            memory_mb=limits.memory_mb,
            wall_seconds=limits.wall_seconds,
        )
    except SandboxError as exc:
        raise CodeSignalError(exc, shape, limits) from exc
