"""A bounded pool of factors chosen for what they add to a linear combination.

Conventions
-----------
- Members are given as *ranked* values (:meth:`ICScorer.ranked`): per-row
  standardised ranks, NaN where a member has no value. In a combination a
  missing value counts as 0 (the middle of the row); a cell where every
  member is missing stays missing.
- Combination weights are least squares of the label's ranked values on the
  members' ranked values, pooled over the cells of the **training** rows
  where the label is ranked, with a ridge of ``1e-6`` on the Gram matrix
  normalised by the number of cells. Nothing about validation rows enters
  the weights.
- The pool's score is the mean daily rank IC of the weighted sum on the
  **validation** rows; an empty pool scores 0. Admission and replacement
  are decided on that score: a candidate enters when it raises the score by
  more than ``min_gain``; in a full pool it takes the place of the member
  whose removal costs least, and only when the swap raises the score by
  more than ``min_gain``. A member's ``marginal`` is the pool's score minus
  the score of the pool refitted without it.
- Only the plan's training and validation rows of any array are read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alphaloop.errors import MiningError
from alphaloop.factors.kernels._common import compiled
from alphaloop.factors.mining.folds import FoldPlan
from alphaloop.factors.mining.scoring import ICScorer, RowSet
from alphaloop.jsonsafe import json_safe

__all__ = ["AlphaPool", "PoolDecision", "PoolMember", "RankedSource"]

RIDGE = 1e-6
"""Ridge added to the diagonal of the cell-normalised Gram matrix of the members."""

STATE_VERSION = 1
RESTORE_TOLERANCE = 1e-6
"""Largest difference between a checkpoint's pool IC and the rebuilt pool's IC."""

RankedSource = Mapping[str, npt.ArrayLike] | Callable[[str, str], npt.ArrayLike]
"""Where :meth:`AlphaPool.from_state` gets a member's ranked values: a mapping by
key, or a function of ``(key, expression)``."""


@dataclass(frozen=True)
class PoolMember:
    """One factor in the pool.

    Attributes
    ----------
    key : str
        Caller's identifier (e.g. the expression hash).
    expression : str
        The factor's expression text.
    weight : float
        Least-squares weight on the member's ranked values (training rows).
    marginal : float
        Pool validation IC minus the validation IC of the pool refitted without it.
    valid_ic : float
        The member's own mean daily rank IC on validation rows.
    """

    key: str
    expression: str
    weight: float
    marginal: float
    valid_ic: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN becomes None)."""
        return dict(json_safe(asdict(self)))


@dataclass(frozen=True)
class PoolDecision:
    """What :meth:`AlphaPool.try_add` did with a candidate.

    Attributes
    ----------
    admitted : bool
        Whether the candidate is now a member.
    replaced : str or None
        Key of the member it displaced, if any.
    pool_valid_ic : float
        The pool's validation IC after the decision.
    previous_valid_ic : float
        The pool's validation IC before it.
    """

    admitted: bool
    replaced: str | None
    pool_valid_ic: float
    previous_valid_ic: float

    @property
    def gain(self) -> float:
        """Change of the pool's validation IC made by this decision."""
        return self.pool_valid_ic - self.previous_valid_ic


@dataclass
class _Slot:
    key: str
    expression: str
    train_block: npt.NDArray[np.float32]  # ranked values on training rows
    valid_filled: npt.NDArray[np.float64]  # ranked values on validation rows, missing -> 0
    valid_present: npt.NDArray[np.bool_]  # where those values are not missing
    train_cells: npt.NDArray[np.float64]  # training cells with a label, missing -> 0
    valid_ic: float


def _dot(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Sum of ``a * b`` in index order (no BLAS threads: their wake-ups dominate here)."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


_dot_jit = compiled(_dot)


def _better(a: float, b: float, margin: float) -> bool:
    """``a > b + margin`` with NaN never better."""
    return math.isfinite(a) and a > b + margin


class AlphaPool:
    """Up to ``capacity`` factors combined linearly, chosen on validation rows.

    Parameters
    ----------
    scorer : ICScorer
        Label, membership, folds and ``min_assets`` used for every score.
    capacity : int
        Largest number of members (at least 1).
    min_gain : float, default=0.001
        Smallest rise of the pool's validation IC that admits a candidate.
    """

    def __init__(self, scorer: ICScorer, capacity: int, *, min_gain: float = 0.001) -> None:
        if capacity < 1:
            raise MiningError(f"pool capacity must be at least 1, got {capacity}")
        if not (math.isfinite(min_gain) and min_gain >= 0.0):
            raise MiningError(f"min_gain must be a finite number >= 0, got {min_gain}")
        self.scorer = scorer
        self.capacity = int(capacity)
        self.min_gain = float(min_gain)
        self._train_rows = scorer.rows("train")
        self._valid_rows = scorer.rows("valid")
        label_train = np.asarray(scorer.label_ranked[self._train_rows], dtype=np.float64)
        self._label_cells = np.isfinite(label_train)
        self._target = label_train[self._label_cells]
        self._n_cells = max(int(self._target.size), 1)
        self._slots: list[_Slot] = []
        self._gram = np.zeros((0, 0))  # member x member, summed over training cells
        self._cross = np.zeros(0)  # member x label
        self._weights = np.zeros(0)
        self._marginals = np.zeros(0)
        self._valid_ic = 0.0

    # building blocks --------------------------------------------------------------------

    def _slot(self, key: str, expression: str, ranked: npt.ArrayLike) -> _Slot:
        values = np.asarray(ranked)
        if values.shape != self.scorer.shape:
            raise MiningError(
                f"ranked values of {key!r} have shape {values.shape}, expected "
                f"{self.scorer.shape} (time, asset)"
            )
        train_block = np.asarray(values[self._train_rows], dtype=np.float32)
        valid_block = np.asarray(values[self._valid_rows], dtype=np.float32)
        cells = train_block[self._label_cells].astype(np.float64)
        cells[~np.isfinite(cells)] = 0.0
        valid_present = np.isfinite(valid_block)
        own = self.scorer.rank_ic_at(valid_block, self._valid_rows)
        own = own[np.isfinite(own)]
        return _Slot(
            key=key,
            expression=expression,
            train_block=train_block,
            valid_filled=np.where(valid_present, valid_block, 0.0),
            valid_present=valid_present,
            train_cells=cells,
            valid_ic=float(own.mean()) if own.size else math.nan,
        )

    def _extend(self, slot: _Slot) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Gram matrix and label cross-products of the members plus ``slot`` (last)."""
        k = len(self._slots)
        gram = np.empty((k + 1, k + 1))
        gram[:k, :k] = self._gram
        for i, other in enumerate(self._slots):
            gram[i, k] = gram[k, i] = _dot_jit(other.train_cells, slot.train_cells)
        gram[k, k] = _dot_jit(slot.train_cells, slot.train_cells)
        cross = np.append(self._cross, _dot_jit(slot.train_cells, self._target))
        return gram, cross

    def _fit(
        self, gram: npt.NDArray[np.float64], cross: npt.NDArray[np.float64], subset: list[int]
    ) -> npt.NDArray[np.float64]:
        if not subset:
            return np.zeros(0)
        idx = np.asarray(subset)
        a = gram[np.ix_(idx, idx)] / self._n_cells + RIDGE * np.eye(idx.size)
        b = cross[idx] / self._n_cells
        try:
            return np.asarray(np.linalg.solve(a, b), dtype=np.float64)
        except np.linalg.LinAlgError:
            return np.asarray(np.linalg.lstsq(a, b, rcond=None)[0], dtype=np.float64)

    @staticmethod
    def _combine(
        parts: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]],
        weights: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        """Weighted sum of zero-filled blocks; NaN where no block has a value."""
        total = np.zeros(parts[0][0].shape)
        scratch = np.empty_like(total)
        seen = np.zeros(total.shape, dtype=bool)
        for (filled, present), weight in zip(parts, weights, strict=True):
            np.multiply(filled, weight, out=scratch)
            total += scratch
            seen |= present
        total[~seen] = np.nan
        return total

    def _daily(
        self, slots: list[_Slot], weights: npt.NDArray[np.float64], which: str
    ) -> npt.NDArray[np.float64]:
        rows = self._valid_rows if which == "valid" else self._train_rows
        if not slots:
            return np.full(rows.size, np.nan)
        if which == "valid":
            parts = [(s.valid_filled, s.valid_present) for s in slots]
        else:
            parts = []
            for s in slots:
                present = np.isfinite(s.train_block)
                parts.append((np.where(present, s.train_block, 0.0), present))
        return self.scorer.rank_ic_at(self._combine(parts, weights), rows)

    def _score(
        self,
        slots: list[_Slot],
        gram: npt.NDArray[np.float64],
        cross: npt.NDArray[np.float64],
        subset: list[int],
    ) -> tuple[float, npt.NDArray[np.float64]]:
        """Validation IC and weights of the members ``subset`` of ``slots``."""
        if not subset:
            return 0.0, np.zeros(0)
        weights = self._fit(gram, cross, subset)
        daily = self._daily([slots[i] for i in subset], weights, "valid")
        daily = daily[np.isfinite(daily)]
        return (float(daily.mean()) if daily.size else math.nan), weights

    def _install(
        self,
        slots: list[_Slot],
        gram: npt.NDArray[np.float64],
        cross: npt.NDArray[np.float64],
        keep: list[int],
    ) -> None:
        idx = np.asarray(keep, dtype=np.int64)
        self._slots = [slots[i] for i in keep]
        self._gram = gram[np.ix_(idx, idx)]
        self._cross = cross[idx]
        every = list(range(len(keep)))
        self._valid_ic, self._weights = self._score(self._slots, self._gram, self._cross, every)
        marginals = []
        for i in every:
            without, _ = self._score(
                self._slots, self._gram, self._cross, [j for j in every if j != i]
            )
            marginals.append(self._valid_ic - without)
        self._marginals = np.asarray(marginals, dtype=np.float64)

    # public -----------------------------------------------------------------------------

    def try_add(self, key: str, expression: str, ranked: npt.ArrayLike) -> PoolDecision:
        """Offer a candidate; admit it if it raises the pool's validation IC enough.

        Parameters
        ----------
        key : str
            Identifier of the candidate; a key already in the pool is not admitted again.
        expression : str
            Its expression text (kept for reports and checkpoints).
        ranked : array-like, shape (n_times, n_assets)
            Its ranked values (:meth:`ICScorer.ranked`); only plan rows are read.
        """
        before = self._valid_ic
        if any(slot.key == key for slot in self._slots):
            return PoolDecision(False, None, before, before)
        slot = self._slot(key, expression, ranked)
        gram, cross = self._extend(slot)
        slots = [*self._slots, slot]
        everyone = list(range(len(slots)))
        if len(self._slots) < self.capacity:
            after, _ = self._score(slots, gram, cross, everyone)
            if not _better(after, before, self.min_gain):
                return PoolDecision(False, None, before, before)
            self._install(slots, gram, cross, everyone)
            return PoolDecision(True, None, self._valid_ic, before)
        # the pool's score without member i; without the candidate it is the current score
        without = [
            self._score(slots, gram, cross, [j for j in everyone if j != i])[0]
            for i in everyone[:-1]
        ]
        without.append(before)
        scores = np.asarray([w if math.isfinite(w) else -np.inf for w in without])
        drop = int(np.argmax(scores))
        if drop == len(slots) - 1 or not _better(without[drop], before, self.min_gain):
            return PoolDecision(False, None, before, before)
        replaced = slots[drop].key
        self._install(slots, gram, cross, [j for j in everyone if j != drop])
        return PoolDecision(True, replaced, self._valid_ic, before)

    @property
    def members(self) -> tuple[PoolMember, ...]:
        """The members, largest marginal contribution first."""
        items = [
            PoolMember(
                key=slot.key,
                expression=slot.expression,
                weight=float(self._weights[i]),
                marginal=float(self._marginals[i]),
                valid_ic=slot.valid_ic,
            )
            for i, slot in enumerate(self._slots)
        ]
        return tuple(sorted(items, key=lambda m: -m.marginal))

    def __len__(self) -> int:
        return len(self._slots)

    def combined(self, rows: RowSet = "valid") -> npt.NDArray[np.float64]:
        """Daily rank IC of the weighted combination, shape (n_times,); NaN off the chosen rows."""
        if rows not in ("train", "valid", "all"):
            raise MiningError(f"rows must be 'train', 'valid' or 'all', got {rows!r}")
        out = np.full(self.scorer.shape[0], np.nan)
        for which in ("train", "valid"):
            if rows in (which, "all"):
                target = self._train_rows if which == "train" else self._valid_rows
                out[target] = self._daily(self._slots, self._weights, which)
        return out

    def valid_ic(self) -> float:
        """Mean daily rank IC of the combination on validation rows (0 for an empty pool)."""
        return self._valid_ic

    def train_ic(self) -> float:
        """Mean daily rank IC of the combination on training rows (in-sample; 0 when empty)."""
        if not self._slots:
            return 0.0
        daily = self._daily(self._slots, self._weights, "train")
        daily = daily[np.isfinite(daily)]
        return float(daily.mean()) if daily.size else math.nan

    # checkpoints ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint: settings, plan and members in pool order.

        The ranked values are not included; :meth:`from_state` asks for them again.
        """
        return dict(
            json_safe(
                {
                    "version": STATE_VERSION,
                    "capacity": self.capacity,
                    "min_gain": self.min_gain,
                    "plan": self.scorer.plan.to_dict(),
                    "valid_ic": self._valid_ic,
                    "members": [
                        {
                            "key": slot.key,
                            "expression": slot.expression,
                            "weight": float(self._weights[i]),
                        }
                        for i, slot in enumerate(self._slots)
                    ],
                }
            )
        )

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], scorer: ICScorer, ranked: RankedSource
    ) -> AlphaPool:
        """Rebuild a pool from :meth:`state` and the members' ranked values.

        Parameters
        ----------
        state : mapping
            What :meth:`state` returned.
        scorer : ICScorer
            A scorer with the same fold plan as the checkpointed pool.
        ranked : mapping or callable
            Each member's ranked values, by key, or a function of ``(key, expression)``.

        Raises
        ------
        MiningError
            When the state is malformed, its plan differs from the scorer's, a
            member's values are missing, or the rebuilt pool's validation IC
            differs from the recorded one (the values do not match the run).
        """
        try:
            version = int(state["version"])
            capacity = int(state["capacity"])
            min_gain = float(state["min_gain"])
            plan = FoldPlan.from_dict(state["plan"])
            recorded = state["valid_ic"]
            entries = [(str(m["key"]), str(m["expression"])) for m in state["members"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise MiningError(
                f"not a pool checkpoint: missing or malformed field ({exc})",
                hint="pass the dict returned by AlphaPool.state()",
            ) from exc
        if version != STATE_VERSION:
            raise MiningError(
                f"pool checkpoint version {version} is not supported (expected {STATE_VERSION})"
            )
        if plan != scorer.plan:
            raise MiningError(
                f"the checkpoint's folds {plan.to_dict()} differ from the scorer's "
                f"{scorer.plan.to_dict()}: the checkpoint does not match this run"
            )
        if len(entries) > capacity:
            raise MiningError(
                f"pool checkpoint holds {len(entries)} members, more than its capacity {capacity}"
            )
        pool = cls(scorer, capacity, min_gain=min_gain)
        slots: list[_Slot] = []
        for key, expression in entries:
            if callable(ranked):
                values = ranked(key, expression)
            elif key in ranked:
                values = ranked[key]
            else:
                raise MiningError(f"no ranked values given for pool member {key!r} ({expression})")
            slot = pool._slot(key, expression, values)
            gram, cross = pool._extend(slot)
            pool._slots, pool._gram, pool._cross = [*pool._slots, slot], gram, cross
            slots = pool._slots
        pool._install(slots, pool._gram, pool._cross, list(range(len(slots))))
        expected = math.nan if recorded is None else float(recorded)
        if not (abs(pool._valid_ic - expected) <= RESTORE_TOLERANCE):
            raise MiningError(
                f"rebuilt pool has validation IC {pool._valid_ic:.9f} but the checkpoint "
                f"recorded {expected:.9f}: the members' values do not match the checkpointed run"
            )
        return pool
