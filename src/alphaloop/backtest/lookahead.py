"""The lookahead scan: re-run a strategy on cut data and compare with the full run.

The scan is engine-agnostic: a strategy is any :data:`SignalFn`, a function
from a :class:`~alphaloop.data.panel.Panel` to named (time, asset) arrays
(indicators, signals, target weights). Two tests run on it.

Truncation test (future data)
    A value at row ``k`` that uses only rows ``0..k`` is the same whether or
    not later rows exist. For each truncation row ``k`` the function is re-run
    on ``panel.iloc(slice(0, k + 1))`` and its rows from just after the
    previous truncation row (at least the last ``tail`` rows; only those for
    the first truncation row) up to ``k`` are compared with the same rows of
    the full run. A difference means the full run read data after ``k``: a
    future reference, a centered window, full-sample normalization, a label
    used as a feature. A value at row ``t`` that reads row ``t + h`` is caught
    by a truncation row in ``t .. t + h - 1``: a read of the next bar only by
    truncating at ``t`` itself.

Truncation rows
    The rows ``k`` (all with ``min_history <= k <= n - 2``) are the union of

    - **decision bars**: the rows whose outputs the strategy acts on
      (``decisions``, e.g. its rebalance bars; by default every bar). When
      there are at most ``max_decision_points`` of them, every one is a
      truncation row: each decision is checked against any read of later
      data, including a read on a single bar (a sparse peek). Otherwise every
      ``g``-th decision bar is, from the first, plus the last, where the
      stride ``g`` is the smallest integer ``>= D / max_decision_points``
      (``D`` decision bars) with no factor 2, 3 or 5. Every decision bar is
      still compared (the rows between truncation rows are), against reads
      reaching past the next truncation row: reads at least
      ``coverage_horizon`` bars ahead (reported) are caught everywhere. A
      read on one decision bar in ``P``, repeating, is still caught at every
      phase when ``P`` has no prime factor other than 2, 3 and 5 and is at
      most the number of decision bars re-run (with the defaults on 33 years
      of daily bars: one in 20, 60 or 250 bars, tested).
    - **a spread sample** of ``n_points`` rows over all bars:
      ``n_points - n_points // 4`` evenly spaced from ``min_history`` to
      ``n - 2`` plus ``n_points // 4`` drawn at random
      (``numpy.random.default_rng(seed)``) from the rest
      (:func:`truncation_rows`).

    Cost: one re-run per truncation row, each on a prefix of the panel (on
    average about half the cost of the full run). By default every bar of a
    panel of ``n`` rows is a decision bar, ``n - 1 - min_history`` in reach:
    all re-run up to 500, else about 500 of them (8,060 daily bars over 33
    years: one in 17, 475 re-runs), plus the ``n_points`` spread rows and the
    warm-ups. A monthly schedule over 33 years is about 385 decision bars,
    all re-run.

Warm-up test (dependence on loaded history)
    A value must not depend on how much history was loaded. For each ``s`` in
    ``warmups`` the function is re-run on ``panel.iloc(slice(s, None))`` (the
    first ``s`` rows removed) and rows ``s + settle`` onward are compared with
    the full run. ``settle`` leaves room for rolling windows to fill after the
    cut, so it must be at least the longest lookback of the strategy (a window
    still empty at ``s + settle`` is reported). Expanding or full-sample
    statistics and schedules anchored to the first loaded row differ here.

Equality
    Two values are equal when both are NaN, both are the same infinity, or
    both are finite and ``|a - b| <= atol + rtol * max(|a|, |b|, scale_j)``,
    where ``scale_j`` is the largest finite ``|value|`` of that output for
    asset ``j`` in the full run (so values near zero, such as a ratio minus
    one, are judged on the output's own scale).

Infinite-memory recursions
    An exponential moving average forgets a cut geometrically: after ``t``
    rows the effect of the removed history is a factor ``(1 - alpha)^t``
    (``alpha = 2 / (span + 1)``) of the gap at the cut. With the defaults
    (``settle=252``, ``rtol=1e-9``) spans up to about 20 bars pass; in general
    ``settle >= 0.5 * (span + 1) * ln(1 / rtol)``, about ``10.4 * (span + 1)``
    rows for ``rtol=1e-9``, makes an EMA pass. Raise ``settle`` (or ``rtol``)
    for longer spans. A recursion that never forgets (an expanding mean, a
    cumulative sum) never passes, whatever the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaloop.data import Panel
from alphaloop.errors import AlphaloopError, BacktestError, ExpressionError

__all__ = [
    "DEFAULT_MAX_DECISION_POINTS",
    "DEFAULT_WARMUPS",
    "ExpressionSignalFn",
    "LookaheadFinding",
    "LookaheadReport",
    "SignalFn",
    "expression_signal_fn",
    "scan_lookahead",
    "truncation_rows",
]

SignalFn = Callable[[Panel], Mapping[str, Any]]
"""Named (time, asset) arrays (ndarray or wide DataFrame) computed from a panel."""

Kind = Literal["truncation", "warmup"]
_KINDS: tuple[Kind, ...] = ("truncation", "warmup")

DEFAULT_WARMUPS: tuple[int, ...] = (63, 252, 756)
"""Rows of history removed by the warm-up test when ``warmups`` is not given."""

DEFAULT_MAX_DECISION_POINTS = 500
"""Decision bars re-run one by one before the scan thins them to every ``g``-th."""

_STRIDE_PRIMES = (2, 3, 5)
"""Factors a thinned stride avoids, so calendar-periodic peeks are met at every phase."""


@dataclass(frozen=True)
class LookaheadFinding:
    """One value that differs between the full run and a re-run.

    Attributes
    ----------
    output : str
        Name of the output (as returned by the signal function).
    kind : {"truncation", "warmup"}
        Which test found it: future data, or dependence on loaded history.
    timestamp : pandas.Timestamp
        Row of the differing value (UTC).
    asset : str
    full_value : float
        Value in the run on the whole panel.
    rerun_value : float
        Value in the re-run on the cut panel.
    rerun_start, rerun_end : pandas.Timestamp
        First and last row the re-run was given (for a truncation finding,
        ``rerun_end`` is the truncation point).
    """

    output: str
    kind: Kind
    timestamp: pd.Timestamp
    asset: str
    full_value: float
    rerun_value: float
    rerun_start: pd.Timestamp
    rerun_end: pd.Timestamp

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ISO timestamps; NaN as None, infinities as ``"inf"`` / ``"-inf"``."""
        return {
            "output": self.output,
            "kind": self.kind,
            "timestamp": self.timestamp.isoformat(),
            "asset": self.asset,
            "full_value": _json_float(self.full_value),
            "rerun_value": _json_float(self.rerun_value),
            "rerun_start": self.rerun_start.isoformat(),
            "rerun_end": self.rerun_end.isoformat(),
        }


@dataclass(frozen=True)
class LookaheadReport:
    """Result of :func:`scan_lookahead`.

    Attributes
    ----------
    clean : bool
        True when no value differed in either test.
    findings : list of LookaheadFinding
        The earliest differing values, at most ``max_findings`` per output,
        ordered by output (as returned), then time, then asset.
    counts : dict of str to dict of str to int
        Per output, the number of differing (time, asset) values found by each
        test (``{"truncation": n, "warmup": m}``), not capped.
    outputs : tuple of str
        Every output checked, in the order the signal function returned them.
    checked_points : tuple of pandas.Timestamp
        The truncation points (last row of each truncated re-run).
    warmups : tuple of int
        Rows of history removed in each warm-up re-run (empty: test skipped).
    settle, tail, min_history, seed : int
    rtol, atol : float
        The settings used (see the module documentation).
    notes : tuple of str
        Caveats of this scan (tests skipped, decision bars out of reach).
    decision_bars : int
        Decision bars in reach of the truncation test (rows ``min_history``
        to ``n - 2``).
    decision_bars_checked : int
        Decision bars that are truncation points: each checked against any
        read of later data. Equal to ``decision_bars`` unless thinned.
    decision_stride : int
        Every ``decision_stride``-th decision bar is a truncation point (1: all).
    coverage_horizon : int
        Every decision bar in reach is compared in a re-run that ends less than
        this many bars after it: a read of data at least this many bars ahead
        is caught on every decision bar (1: any read).
    """

    clean: bool
    findings: list[LookaheadFinding]
    counts: dict[str, dict[str, int]]
    outputs: tuple[str, ...]
    checked_points: tuple[pd.Timestamp, ...]
    warmups: tuple[int, ...]
    settle: int
    tail: int
    min_history: int
    rtol: float
    atol: float
    seed: int
    notes: tuple[str, ...] = field(default=())
    decision_bars: int = 0
    decision_bars_checked: int = 0
    decision_stride: int = 1
    coverage_horizon: int = 1

    @property
    def offending_outputs(self) -> tuple[str, ...]:
        """Outputs with at least one differing value, in output order."""
        return tuple(name for name in self.outputs if sum(self.counts[name].values()))

    @property
    def first_offence(self) -> dict[str, LookaheadFinding]:
        """Per offending output, its earliest finding (either test)."""
        first: dict[str, LookaheadFinding] = {}
        for f in self.findings:
            first.setdefault(f.output, f)
        return first

    def coverage(self) -> str:
        """One sentence: how many decision bars were checked, and against which reads."""
        if not self.decision_bars:
            return "decision bars: none in reach of the truncation test"
        if self.decision_bars_checked == self.decision_bars:
            return f"decision bars: all {self.decision_bars} checked against any read of later data"
        return (
            f"decision bars: {self.decision_bars_checked} of {self.decision_bars} re-run "
            f"(one in {self.decision_stride}); all compared against reads "
            f"{self.coverage_horizon}+ bars ahead"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (timestamps as ISO strings)."""
        return {
            "clean": self.clean,
            "outputs": list(self.outputs),
            "offending_outputs": list(self.offending_outputs),
            "first_offence": {k: v.to_dict() for k, v in self.first_offence.items()},
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "findings": [f.to_dict() for f in self.findings],
            "checked_points": [t.isoformat() for t in self.checked_points],
            "warmups": list(self.warmups),
            "settle": self.settle,
            "tail": self.tail,
            "min_history": self.min_history,
            "rtol": self.rtol,
            "atol": self.atol,
            "seed": self.seed,
            "notes": list(self.notes),
            "decision_bars": self.decision_bars,
            "decision_bars_checked": self.decision_bars_checked,
            "decision_stride": self.decision_stride,
            "coverage_horizon": self.coverage_horizon,
        }

    def summary(self) -> str:
        """A few lines of text: verdict, settings, and each offending output's first value."""
        span = (
            f"{len(self.checked_points)} truncation points "
            f"{_when(self.checked_points[0])}..{_when(self.checked_points[-1])}"
            if self.checked_points
            else "no truncation points"
        )
        warm = (
            f"warm-ups of {'/'.join(map(str, self.warmups))} rows removed, settle {self.settle}"
            if self.warmups
            else "warm-up test skipped"
        )
        bad = self.offending_outputs
        verdict = (
            f"clean: {len(self.outputs)} output(s)"
            if self.clean
            else f"LOOKAHEAD in {len(bad)} of {len(self.outputs)} output(s)"
        )
        lines = [f"lookahead scan: {verdict} ({span}; {warm})"]
        lines.append(f"  {self.coverage()}")
        for name, f in self.first_offence.items():
            c = self.counts[name]
            what = "future data" if f.kind == "truncation" else "depends on loaded history"
            lines.append(
                f"  {name}: {what} from {_when(f.timestamp)} ({f.asset}: full "
                f"{f.full_value:.6g}, re-run {f.rerun_value:.6g} on data "
                f"{_when(f.rerun_start)}..{_when(f.rerun_end)}); differing values: "
                f"{c['truncation']} truncation, {c['warmup']} warm-up"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def truncation_rows(n_rows: int, n_points: int, min_history: int, seed: int = 0) -> np.ndarray:
    """Sorted truncation rows ``k`` for a panel of ``n_rows`` rows (see the module docs)."""
    lo, hi = min_history, n_rows - 2
    if n_points < 1 or hi - lo + 1 < n_points:
        raise BacktestError(
            f"the panel has {n_rows} rows; {n_points} truncation points after "
            f"min_history={min_history} rows need at least {min_history + n_points + 1}",
            hint="pass fewer n_points, a smaller min_history, or a longer panel",
        )
    n_random = n_points // 4
    even = np.unique(np.rint(np.linspace(lo, hi, n_points - n_random)).astype(np.intp))
    rest = np.setdiff1d(np.arange(lo, hi + 1, dtype=np.intp), even)
    rng = np.random.default_rng(seed)
    extra = rng.choice(rest, size=n_points - even.size, replace=False)
    return np.sort(np.concatenate([even, extra.astype(np.intp)]))


def scan_lookahead(
    fn: SignalFn,
    panel: Panel,
    *,
    n_points: int = 20,
    warmups: Sequence[int] | None = None,
    settle: int = 252,
    min_history: int = 252,
    tail: int = 5,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    seed: int = 0,
    max_findings: int = 20,
    progress: Callable[[int, int], None] | None = None,
    decisions: npt.ArrayLike | None = None,
    max_decision_points: int | None = DEFAULT_MAX_DECISION_POINTS,
) -> LookaheadReport:
    """Scan a strategy for lookahead by re-running it on truncated and shortened panels.

    Parameters
    ----------
    fn : SignalFn
        Computes named (time, asset) arrays from a panel; called once on the
        whole panel, once per truncation point and once per warm-up.
    panel : Panel
    n_points : int, default 20
        Truncation points spread over all bars (re-runs on a prefix of the
        panel), on top of the decision bars.
    warmups : sequence of int, optional
        Rows of history removed in each warm-up re-run. By default
        :data:`DEFAULT_WARMUPS`, keeping those that leave a row to compare;
        given values that leave none raise. Pass ``()`` to skip the test.
    settle : int, default 252
        Rows after each warm-up cut that are not compared: at least the
        longest lookback of the strategy (bars).
    min_history : int, default 252
        Truncation rows ``k`` are at least this (each truncated re-run holds
        ``k + 1 >= min_history + 1`` rows).
    tail : int, default 5
        Rows compared at the end of each truncated re-run.
    rtol, atol : float, default 1e-9, 1e-12
        Tolerances (see the module documentation for the exact rule).
    seed : int, default 0
        Seeds the random truncation points.
    max_findings : int, default 20
        Findings kept per output (the earliest); ``counts`` are not capped.
    progress : callable, optional
        Called as ``progress(done, total)`` after each run.
    decisions : array-like of bool, shape (n_times,), optional
        The bars whose outputs the strategy acts on (its rebalance bars); each
        one in reach (rows ``min_history`` to ``n - 2``) is a truncation point,
        up to ``max_decision_points``. By default every bar.
    max_decision_points : int or None, default :data:`DEFAULT_MAX_DECISION_POINTS`
        Most decision bars re-run one by one; beyond it every ``g``-th is (see
        the module documentation). ``None``: every decision bar, whatever the
        cost.

    Returns
    -------
    LookaheadReport

    Raises
    ------
    BacktestError
        For settings out of range, a panel too short for them, or a signal
        function that returns no outputs, arrays of the wrong shape or dtype,
        different outputs on different runs, or fails on a cut panel.
    """
    _check_settings(n_points, settle, min_history, tail, rtol, atol, max_findings)
    if max_decision_points is not None:
        _check_int("max_decision_points", max_decision_points, 1)
    n = panel.n_times
    sample = truncation_rows(n, n_points, min_history, seed)
    is_decision = _decision_mask(decisions, n)
    in_reach = np.flatnonzero(is_decision[min_history : n - 1]) + min_history
    picked, stride = _thin(in_reach, max_decision_points)
    rows = np.union1d(sample, picked)
    cuts = _warmup_cuts(warmups, n, settle)
    total, done = 1 + len(rows) + len(cuts), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    full = _run(fn, panel, f"the whole panel ({n} rows)", None)
    full = {k: np.array(v, dtype=np.float64) for k, v in full.items()}
    tick()
    scale = {k: np.where(np.isfinite(v), np.abs(v), 0.0).max(axis=0) for k, v in full.items()}
    found = _Collector(panel, max_findings)
    index = panel.index
    previous = -1
    for k in (int(r) for r in rows):
        where = f"the panel truncated at {_when(index[k])} ({k + 1} rows)"
        rerun = _run(fn, panel.iloc(slice(0, k + 1)), where, full)
        # compare back to the previous truncation row, so rows between them are checked too
        r0 = max(0, k + 1 - tail if previous < 0 else min(k + 1 - tail, previous + 1))
        previous = k
        for name, values in rerun.items():
            a, b = full[name][r0 : k + 1], values[r0 - k - 1 :]
            found.add(name, "truncation", r0, a, b, scale[name], rtol, atol, (0, k))
        tick()
    for s in cuts:
        where = f"the panel without its first {s} rows"
        rerun = _run(fn, panel.iloc(slice(s, None)), where, full)
        r0 = s + settle
        for name, values in rerun.items():
            a, b = full[name][r0:], values[settle:]
            found.add(name, "warmup", r0, a, b, scale[name], rtol, atol, (s, n - 1))
        tick()
    notes: list[str] = []
    if not cuts and warmups is None:
        notes.append(
            f"warm-up test skipped: {n} rows leave none to compare after the smallest "
            f"default cut ({DEFAULT_WARMUPS[0]}) and settle={settle}"
        )
    early = int(is_decision[:min_history].sum())
    if early and decisions is not None:
        notes.append(
            f"{early} decision bar(s) before min_history={min_history} (the first "
            f"{min_history} rows) not checked by the truncation test"
        )
    findings, counts = found.result(tuple(full))
    return LookaheadReport(
        clean=not findings,
        findings=findings,
        counts=counts,
        outputs=tuple(full),
        checked_points=tuple(index[rows]),
        warmups=cuts,
        settle=settle,
        tail=tail,
        min_history=min_history,
        rtol=float(rtol),
        atol=float(atol),
        seed=seed,
        notes=tuple(notes),
        decision_bars=int(in_reach.size),
        decision_bars_checked=int(np.intersect1d(in_reach, rows).size),
        decision_stride=stride,
        coverage_horizon=_horizon(in_reach, rows),
    )


class ExpressionSignalFn:
    """A :data:`SignalFn` that evaluates factor expressions (see :func:`expression_signal_fn`).

    Attributes
    ----------
    expressions : dict of str to str
        Output name to expression text.
    mode : {"strict", "qlib"}
    label : bool
    warmup : int
        Bars of history the expressions need (the longest): a lower bound for
        the scan's ``settle``.
    """

    def __init__(
        self,
        exprs: Mapping[str, str] | Sequence[str] | str,
        *,
        mode: Literal["strict", "qlib"],
        label: bool,
    ) -> None:
        from alphaloop.factors import compile_expression

        if mode not in ("strict", "qlib"):
            raise ExpressionError(f"unknown evaluation mode {mode!r}; use 'strict' or 'qlib'")
        if isinstance(exprs, str):
            exprs = [exprs]
        items = list(exprs.items()) if isinstance(exprs, Mapping) else [(e, e) for e in exprs]
        if not items:
            raise BacktestError("expression_signal_fn needs at least one expression")
        self.expressions = {str(name): text for name, text in items}
        self.mode = mode
        self.label = label
        self._compiled = {
            name: compile_expression(text, label=label) for name, text in self.expressions.items()
        }
        self.warmup = max(e.warmup for e in self._compiled.values())

    def __call__(self, panel: Panel) -> dict[str, np.ndarray]:
        from alphaloop.factors.evaluate import evaluate
        from alphaloop.factors.validate import validate

        for e in self._compiled.values():
            validate(e.node, text=e.text, fields=panel.field_names, label=self.label)
        return evaluate(panel, self._compiled, mode=self.mode, label=self.label)

    def __repr__(self) -> str:
        return f"ExpressionSignalFn({self.expressions!r}, mode={self.mode!r}, label={self.label})"


def expression_signal_fn(
    exprs: Mapping[str, str] | Sequence[str] | str,
    *,
    mode: Literal["strict", "qlib"] = "strict",
    label: bool = False,
) -> ExpressionSignalFn:
    """A signal function evaluating factor expressions, so they can be scanned directly.

    Parameters
    ----------
    exprs : mapping of str to str, sequence of str, or str
        Expressions; a mapping names the outputs, otherwise each is named by
        its text. Parsed once, here (syntax and lookahead errors raise now).
    mode : {"strict", "qlib"}, default "strict"
        Evaluation mode of :func:`alphaloop.factors.evaluate.evaluate`.
    label : bool, default False
        Allow future references (``Ref(x, -k)``); the scan then reports them.

    Returns
    -------
    ExpressionSignalFn
        Callable on a panel; its ``warmup`` is the bars the expressions need.
    """
    return ExpressionSignalFn(exprs, mode=mode, label=label)


# ------------------------------------------------------------------ helpers


def _check_settings(
    n_points: int, settle: int, min_history: int, tail: int, rtol: float, atol: float, cap: int
) -> None:
    for name, value, low in (
        ("n_points", n_points, 1),
        ("settle", settle, 0),
        ("min_history", min_history, 0),
        ("tail", tail, 1),
        ("max_findings", cap, 1),
    ):
        _check_int(name, value, low)
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not isinstance(tol, int | float | np.floating) or not np.isfinite(tol) or tol < 0:
            raise BacktestError(f"{name} must be a finite number >= 0, got {tol!r}")


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise BacktestError(f"{name} must be an integer >= {low}, got {value!r}")


def _decision_mask(decisions: npt.ArrayLike | None, n: int) -> np.ndarray:
    """``decisions`` as a bool array of shape (n,); every bar when None."""
    if decisions is None:
        return np.ones(n, dtype=bool)
    mask = np.asarray(decisions)
    if mask.dtype != np.bool_ or mask.shape != (n,):
        raise BacktestError(
            f"decisions must be a boolean array with one value per bar, shape ({n},); got "
            f"dtype {mask.dtype} and shape {mask.shape}",
            hint="pass e.g. alphaloop.backtest.portfolio.rebalance_rows(panel.index, rule)",
        )
    return mask


def _stride(count: int, cap: int) -> int:
    """Smallest integer ``>= count / cap`` with no factor in ``_STRIDE_PRIMES`` (1 if it fits)."""
    g = -(-count // cap)
    while g > 1 and any(g % p == 0 for p in _STRIDE_PRIMES):
        g += 1
    return g


def _thin(candidates: np.ndarray, cap: int | None) -> tuple[np.ndarray, int]:
    """Decision rows to truncate at: all of them, or every ``g``-th plus the last."""
    if cap is None or candidates.size <= cap:
        return candidates, 1
    g = _stride(candidates.size, cap)
    return np.union1d(candidates[::g], candidates[-1:]), g


def _horizon(decision_rows: np.ndarray, rows: np.ndarray) -> int:
    """The coverage horizon: ``1 + max(next truncation row at or after d - d)`` over decisions."""
    if not decision_rows.size:
        return 1
    nxt = rows[np.searchsorted(rows, decision_rows)]
    return int((nxt - decision_rows).max()) + 1


def _warmup_cuts(warmups: Sequence[int] | None, n: int, settle: int) -> tuple[int, ...]:
    if warmups is None:
        return tuple(s for s in DEFAULT_WARMUPS if s + settle < n)
    cuts = []
    for s in warmups:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1:
            raise BacktestError(f"warmups must be integers >= 1 (rows removed), got {s!r}")
        if s + settle >= n:
            raise BacktestError(
                f"warm-up cut of {s} rows plus settle={settle} leaves no row of the "
                f"{n}-row panel to compare",
                hint="pass smaller warmups or settle, or a longer panel",
            )
        cuts.append(int(s))
    return tuple(sorted(set(cuts)))


def _run(
    fn: SignalFn, panel: Panel, where: str, expect: Mapping[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """Call ``fn`` and check its outputs: names (same as ``expect``), shapes and dtypes."""
    try:
        result = fn(panel)
    except AlphaloopError:
        raise
    except Exception as exc:
        raise BacktestError(
            f"the signal function failed on {where}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(result, Mapping):
        raise BacktestError(
            f"the signal function returned {type(result).__name__} on {where}; it must return "
            "a mapping of output name to (time, asset) array"
        )
    if not result:
        raise BacktestError(f"the signal function returned no outputs on {where}")
    out: dict[str, np.ndarray] = {}
    for name, value in result.items():
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise BacktestError(
                f"output {name!r} has dtype {arr.dtype} on {where}; expected numbers or booleans"
            )
        if arr.shape != panel.shape:
            raise BacktestError(
                f"output {name!r} has shape {arr.shape} on {where}, expected {panel.shape} "
                "(time, asset)"
            )
        out[str(name)] = arr if arr.dtype.kind == "f" else arr.astype(np.float64)
    if expect is not None and set(out) != set(expect):
        missing, extra = sorted(set(expect) - set(out)), sorted(set(out) - set(expect))
        raise BacktestError(
            f"the signal function returned different outputs on {where} than on the whole "
            f"panel: missing {missing}, unexpected {extra}"
        )
    return out


def _differs(
    a: np.ndarray, b: np.ndarray, scale: np.ndarray, rtol: float, atol: float
) -> np.ndarray:
    """Boolean mask of values that are not equal under the scan's rule."""
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        mag = np.maximum(np.maximum(np.abs(a), np.abs(b)), scale)
        near = np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) <= atol + rtol * mag)
    return ~(near | (a == b) | (np.isnan(a) & np.isnan(b)))


class _Collector:
    """Differing cells per (output, kind): an uncapped mask and the earliest few values."""

    def __init__(self, panel: Panel, cap: int) -> None:
        self.panel = panel
        self.cap = cap
        self.masks: dict[tuple[str, str], np.ndarray] = {}
        self.cells: dict[tuple[str, str], list[tuple[int, int, float, float, int, int]]] = {}

    def add(
        self,
        name: str,
        kind: Kind,
        r0: int,
        a: np.ndarray,
        b: np.ndarray,
        scale: np.ndarray,
        rtol: float,
        atol: float,
        loaded: tuple[int, int],
    ) -> None:
        diff = _differs(a, b, scale, rtol, atol)
        bad_rows = np.flatnonzero(diff.any(axis=1))
        if not bad_rows.size:
            return
        mask = self.masks.setdefault((name, kind), np.zeros(self.panel.shape, dtype=bool))
        mask[r0 : r0 + len(a)] |= diff
        cells = self.cells.setdefault((name, kind), [])
        head = bad_rows[: self.cap]
        ti, aj = np.nonzero(diff[head])
        for i, j in zip(head[ti[: self.cap]], aj[: self.cap], strict=True):
            cells.append((r0 + int(i), int(j), float(a[i, j]), float(b[i, j]), *loaded))

    def result(
        self, outputs: tuple[str, ...]
    ) -> tuple[list[LookaheadFinding], dict[str, dict[str, int]]]:
        index, assets = self.panel.index, self.panel.assets
        order = {"truncation": 0, "warmup": 1}
        findings: list[LookaheadFinding] = []
        counts: dict[str, dict[str, int]] = {}
        for name in outputs:
            counts[name] = {
                kind: int(self.masks[(name, kind)].sum()) if (name, kind) in self.masks else 0
                for kind in _KINDS
            }
            seen: dict[tuple[int, int, str], LookaheadFinding] = {}
            for kind in _KINDS:
                for t, j, full, rerun, first, last in self.cells.get((name, kind), []):
                    seen.setdefault(
                        (t, j, kind),
                        LookaheadFinding(
                            output=name,
                            kind=kind,
                            timestamp=index[t],
                            asset=assets[j],
                            full_value=full,
                            rerun_value=rerun,
                            rerun_start=index[first],
                            rerun_end=index[last],
                        ),
                    )
            ranked = sorted(seen.items(), key=lambda kv: (kv[0][0], kv[0][1], order[kv[0][2]]))
            findings.extend(f for _, f in ranked[: self.cap])
        return findings, counts


def _when(ts: pd.Timestamp) -> str:
    """A date for daily stamps (midnight), else date and time."""
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%d %H:%M:%S}"


def _json_float(x: float) -> float | str | None:
    if np.isnan(x):
        return None
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return float(x)
