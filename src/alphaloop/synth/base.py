"""The generator contract every synthetic-data generator follows.

Parameters are set in ``__init__`` and only stored there; :meth:`Generator.fit`
reads a real Panel's closes (and its open/high/low/volume when it has them),
learns, sets attributes ending in ``_`` and returns ``self``;
:meth:`Generator.sample` draws ``n_paths`` Panels of ``length`` bars with the
same assets, each labelled :class:`~alphaloop.data.SyntheticOrigin`.
:meth:`Generator.sample_returns` gives the raw draw: log returns of shape
``(n_paths, length, n_assets)``. A new generator (a GAN, say) subclasses
:class:`Generator`, implements ``_fit`` and ``_draw`` (and ``_state`` /
``_load`` to be stored), and registers its kind in
:data:`alphaloop.synth.registry.GENERATORS`.

Conventions: returns are log returns per bar (``log(close_t / close_{t-1})``);
a path's prices start from the fitted panel's last close; the same seed gives
the same paths, bit for bit.
"""

from __future__ import annotations

import inspect
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from alphaloop.data import Panel, SyntheticOrigin
from alphaloop.errors import SynthError
from alphaloop.synth.ohlcv import BarShapes, ohlcv_paths

__all__ = [
    "MIN_FIT_BARS",
    "PATHS_PER_CHUNK",
    "Generator",
    "check_draw",
    "in_chunks",
    "log_returns",
    "path_chunks",
    "run_chunks",
]

#: Paths drawn per chunk: each chunk has its own child generator (spawned from
#: the seed), so a draw is the same whatever the number of threads.
PATHS_PER_CHUNK = 25

#: Fewest complete return rows a generator is fitted on.
MIN_FIT_BARS = 250
#: Most bars or paths one draw makes (a guard against typos, not a memory plan).
MAX_PATHS = 100_000
MAX_LENGTH = 1_000_000


def log_returns(panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Complete rows of log close-to-close returns and their bar positions.

    Returns
    -------
    returns : ndarray, shape (rows, assets)
        ``log(close_t / close_{t-1})`` on bars where every asset has a
        positive close on ``t`` and ``t - 1`` and is a member on ``t``.
    rows : ndarray of int
        The bar ``t`` of each row in the panel.
    """
    if "close" not in panel:
        raise SynthError(
            f"the panel has no close field (fields: {list(panel.field_names)})",
            hint="generators are fitted on closes",
        )
    if panel.is_synthetic:
        raise SynthError(
            "the panel is synthetic: generators are fitted on real data only",
            hint=f"it is {panel.synthetic.describe() if panel.synthetic else ''}",
        )
    close = np.asarray(panel["close"], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.where(close > 0, np.log(close), np.nan)
    r = logc[1:] - logc[:-1]
    ok = np.all(np.isfinite(r), axis=1) & np.all(panel.membership[1:], axis=1)
    rows = np.nonzero(ok)[0] + 1
    return r[ok], rows


def path_chunks(n_paths: int) -> list[slice]:
    """The chunks of :data:`PATHS_PER_CHUNK` paths a draw is made in."""
    return [slice(a, min(a + PATHS_PER_CHUNK, n_paths)) for a in range(0, n_paths, PATHS_PER_CHUNK)]


def run_chunks(n_paths: int, work: Callable[[slice], None]) -> None:
    """Run ``work(paths)`` on every chunk of paths, in one thread per core.

    ``work`` fills its slice of a preallocated output; numpy's generators and
    the numba kernels release the GIL, so chunks run on every core. BLAS is
    held to one thread meanwhile (the matrices are small).
    """
    from threadpoolctl import threadpool_limits

    chunks = path_chunks(n_paths)
    workers = max(1, min(os.cpu_count() or 1, len(chunks)))
    with threadpool_limits(1):
        if workers == 1:
            for part in chunks:
                work(part)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, chunks))


def in_chunks(
    n_paths: int,
    rng: np.random.Generator,
    work: Callable[[np.random.Generator, slice], None],
) -> None:
    """Run ``work(child_rng, paths)`` on chunks of paths (see :func:`run_chunks`).

    Children are spawned from ``rng`` in chunk order, so the draw depends on
    the seed only, not on the number of threads.
    """
    chunks = path_chunks(n_paths)
    children = dict(zip((c.start for c in chunks), rng.spawn(len(chunks)), strict=True))
    run_chunks(n_paths, lambda part: work(children[part.start], part))


def check_draw(n_paths: Any, length: Any, seed: Any) -> tuple[int, int, int]:
    """Validated ``(n_paths, length, seed)`` or a :class:`SynthError` naming the bad one."""
    out = []
    for name, value, low, high in (
        ("n_paths", n_paths, 1, MAX_PATHS),
        ("length", length, 2, MAX_LENGTH),
        ("seed", seed, 0, 2**63 - 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise SynthError(f"{name} must be an integer, got {value!r}")
        if not low <= int(value) <= high:
            raise SynthError(f"{name} must be between {low:,} and {high:,}, got {value:,}")
        out.append(int(value))
    return out[0], out[1], out[2]


class Generator(ABC):
    """Base class of synthetic-data generators (fit on a Panel, sample Panels).

    Attributes set by :meth:`fit`
    -----------------------------
    assets_ : tuple of str
    returns_ : ndarray, shape (rows, assets)
        The complete log-return rows fitted on.
    last_close_ : ndarray, shape (assets,)
        Where sampled price paths start.
    calendar_ : pandas.DatetimeIndex
        The fitted panel's bars (sampled paths take its last ``length`` bars,
        or business days ending at its end when longer).
    shapes_ : BarShapes or None
        Open/high/low/volume shapes of the real bars, when the panel had them.
    source_ : str
        The dataset's label (``name vN``) given to :meth:`fit`, or ``""``.
    source_hash_ : str
    """

    #: The registry's name of the generator's kind.
    kind: ClassVar[str] = ""
    #: Parameters that only steer sampling: :meth:`with_params` changes them
    #: on a fitted generator without fitting again.
    sample_params: ClassVar[tuple[str, ...]] = ()

    # ---------------------------------------------------------------- contract
    def get_params(self) -> dict[str, Any]:
        """The ``__init__`` parameters as set (JSON-ready values)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def with_params(self, **params: Any) -> Self:
        """A copy (sharing the fit) with sampling parameters changed.

        Only names in :attr:`sample_params` may change; others need a new fit.
        """
        import copy

        bad = sorted(set(params) - set(self.sample_params))
        if bad:
            allowed = ", ".join(self.sample_params) or "none"
            raise SynthError(
                f"{self.kind} cannot change {bad} after fitting (sampling parameters: {allowed})",
                hint="fit a new generator with these parameters",
            )
        out = copy.copy(self)
        for key, value in params.items():
            setattr(out, key, value)
        out._check_sample_params()
        return out

    def _check_sample_params(self) -> None:  # noqa: B027
        """Validate sampling parameters (kinds with some override this)."""

    def fit(self, panel: Panel, *, source: str = "") -> Self:
        """Learn from a real panel's closes (and bar shapes); returns ``self``."""
        if not isinstance(panel, Panel):
            raise SynthError(f"fit takes a Panel, got {type(panel).__name__}")
        returns, rows = log_returns(panel)
        if len(returns) < MIN_FIT_BARS:
            raise SynthError(
                f"{len(returns)} complete return rows to fit on; at least {MIN_FIT_BARS} needed",
                hint="choose assets priced over a common span, or a longer dataset",
            )
        self.assets_ = tuple(panel.assets)
        self.returns_ = np.ascontiguousarray(returns)
        self.last_close_ = np.asarray(panel["close"], dtype=np.float64)[rows[-1]].copy()
        self.calendar_ = panel.index
        self.shapes_ = BarShapes.from_panel(panel, rows)
        self.source_ = str(source)
        self.source_hash_ = panel.content_hash()
        self._fit(self.returns_)
        return self

    def sample_returns(self, n_paths: int, length: int, seed: int = 0) -> np.ndarray:
        """Log returns of ``n_paths`` paths: shape ``(n_paths, length, n_assets)``."""
        n, t, s = check_draw(n_paths, length, seed)
        self._check_fitted()
        returns, _ = self._draw(n, t, np.random.default_rng(s))
        return returns

    def sample(
        self, n_paths: int, length: int, seed: int = 0, *, name: str = "", label: str = ""
    ) -> list[Panel]:
        """``n_paths`` synthetic Panels of ``length`` bars, labelled with their origin.

        ``name`` is the generator's name in the origin (default: its kind);
        ``label`` names the draw.

        Fields: ``close``, and ``open``, ``high``, ``low``, ``volume`` when the
        fitted panel had them (low <= open, close <= high on every bar).
        """
        n, t, s = check_draw(n_paths, length, seed)
        self._check_fitted()
        rng = np.random.default_rng(s)
        returns, days = self._draw(n, t, rng)
        fields = ohlcv_paths(returns, self.last_close_, self.shapes_, days, rng)
        index = self._calendar(t)
        params = self.get_params()
        out = []
        for k in range(n):
            origin = SyntheticOrigin(
                generator=self.kind,
                name=name or self.kind,
                params=params,
                seed=s,
                path=k,
                source=self.source_,
                source_hash=self.source_hash_,
                label=str(label),
            )
            panel = Panel(index, self.assets_, {f: v[k] for f, v in fields.items()})
            out.append(panel.as_synthetic(origin))
        return out

    # ------------------------------------------------------------ persistence
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(meta, arrays)``: JSON-ready metadata and named arrays that restore the fit."""
        self._check_fitted()
        meta = {
            "kind": self.kind,
            "params": self.get_params(),
            "assets": list(self.assets_),
            "source": self.source_,
            "source_hash": self.source_hash_,
            "fitted": self._state_meta(),
        }
        arrays = {
            "returns": self.returns_,
            "last_close": self.last_close_,
            "calendar": self.calendar_.asi8,
            **self._state_arrays(),
        }
        if self.shapes_ is not None:
            arrays.update(self.shapes_.arrays())
        return meta, arrays

    def restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Self:
        """Set the fitted attributes from :meth:`state`'s output; returns ``self``."""
        self.assets_ = tuple(meta["assets"])
        self.returns_ = np.asarray(arrays["returns"], dtype=np.float64)
        self.last_close_ = np.asarray(arrays["last_close"], dtype=np.float64)
        self.calendar_ = pd.DatetimeIndex(np.asarray(arrays["calendar"], dtype=np.int64), tz="UTC")
        self.shapes_ = BarShapes.from_arrays(arrays)
        self.source_ = str(meta.get("source", ""))
        self.source_hash_ = str(meta.get("source_hash", ""))
        self._restore(meta.get("fitted", {}), arrays)
        return self

    # ------------------------------------------------------------- for kinds
    @abstractmethod
    def _fit(self, returns: np.ndarray) -> None:
        """Learn from complete log-return rows ``(rows, assets)``."""

    @abstractmethod
    def _draw(
        self, n_paths: int, length: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(returns, days)``: log returns ``(n, t, assets)`` and, when the draw
        reuses real rows, their positions in ``returns_`` ``(n, t)`` (else None)."""

    def _state_meta(self) -> dict[str, Any]:
        return {}

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, fitted: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:  # noqa: B027
        """Restore what ``_fit`` learnt (the defaults store nothing more)."""

    # ----------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "returns_"):
            raise SynthError(f"the {self.kind} generator is not fitted", hint="call fit(panel)")

    def _calendar(self, length: int) -> pd.DatetimeIndex:
        cal = self.calendar_
        if length <= len(cal):
            return cal[len(cal) - length :]
        return pd.bdate_range(end=cal[-1], periods=length, tz="UTC").as_unit("ns")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"
