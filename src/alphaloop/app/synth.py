"""Synthetic data in the workspace: fit generators on datasets, store them, draw paths.

Fitted generators live in ``<workspace>/synth/<name>/`` (``generator.json``:
kind, parameters, dataset and version, what the fit learnt; ``arrays.npz``:
the fitted arrays). A generator is fitted on what the catalog loads, which
stops before a sealed holdout, so synthetic paths never carry holdout data.
Drawn paths are Panels labelled :class:`~alphaloop.data.SyntheticOrigin`;
written to files they carry a Parquet marker the importer refuses, so they
can never become a dataset.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alphaloop.app.workspace import Workspace
from alphaloop.data import SYNTHETIC_PARQUET_KEY, Panel
from alphaloop.errors import GeneratorNotFoundError, SynthError
from alphaloop.files import write_atomic
from alphaloop.synth import Generator, generator_from_state, make_generator

if TYPE_CHECKING:
    from alphaloop.risk import MonteCarloStress

__all__ = [
    "FittedGenerator",
    "fit_generator",
    "generator_dir",
    "generator_stress_test",
    "list_generators",
    "load_generator",
    "parse_params",
    "parse_weights",
    "sample_paths",
    "write_paths",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class FittedGenerator:
    """A generator stored in the workspace.

    Attributes
    ----------
    name, kind : str
    params : dict
        Its ``__init__`` parameters.
    dataset : str
    version : int
        The dataset version it was fitted on.
    assets : tuple of str
    bars : int
        Complete return rows it was fitted on.
    fitted : dict
        Scalars the fit learnt (e.g. the block length).
    fitted_at : str
        ISO time (UTC).
    """

    name: str
    kind: str
    params: dict[str, Any]
    dataset: str
    version: int
    assets: tuple[str, ...]
    bars: int
    fitted: dict[str, Any]
    fitted_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "dataset": self.dataset,
            "version": self.version,
            "assets": list(self.assets),
            "bars": self.bars,
            "fitted": self.fitted,
            "fitted_at": self.fitted_at,
        }


def generator_dir(ws: Workspace, name: str) -> Path:
    """Where generator ``name`` is stored (the name checked)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SynthError(
            f"generator name {name!r} is not valid",
            hint="use letters, digits, '.', '_' or '-' (up to 64, starting with a letter or digit)",
        )
    return ws.root / "synth" / name


def _record(meta: dict[str, Any]) -> FittedGenerator:
    return FittedGenerator(
        name=meta["name"],
        kind=meta["kind"],
        params=meta.get("params", {}),
        dataset=meta["dataset"],
        version=int(meta["version"]),
        assets=tuple(meta["assets"]),
        bars=int(meta["bars"]),
        fitted=meta.get("fitted", {}),
        fitted_at=meta["fitted_at"],
    )


def fit_generator(
    ws: Workspace,
    name: str,
    data: str,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    assets: list[str] | None = None,
    start: Any = None,
    end: Any = None,
    replace: bool = False,
) -> FittedGenerator:
    """Fit a generator of ``kind`` on dataset ``data`` and store it as ``name``.

    Raises
    ------
    SynthError
        A bad name or parameter, a name already taken (without ``replace``),
        too few complete return rows.
    DatasetNotFoundError
        No such dataset.
    """
    target = generator_dir(ws, name)
    if (target / "generator.json").exists() and not replace:
        raise SynthError(
            f"a generator named {name!r} exists already", hint="pass --replace to fit it again"
        )
    gen = make_generator(kind, params)
    info = ws.data.info(data)
    panel = ws.data.load(data, assets=assets, start=start, end=end)
    gen.fit(panel, source=f"{info.name} v{info.version}")
    meta, arrays = gen.state()
    meta.update(
        name=name,
        dataset=info.name,
        version=info.version,
        bars=int(gen.returns_.shape[0]),
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    if target.exists():
        shutil.rmtree(target)
    write_atomic(target / "arrays.npz", buf.getvalue())
    write_atomic(target / "generator.json", json.dumps(meta, indent=2, default=str))
    return _record(meta)


def list_generators(ws: Workspace) -> list[FittedGenerator]:
    """Every stored generator, by name."""
    root = ws.root / "synth"
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.glob("*/generator.json")):
        out.append(_record(json.loads(path.read_text())))
    return out


def load_generator(ws: Workspace, name: str) -> tuple[FittedGenerator, Generator]:
    """The stored record and the fitted generator ``name``."""
    target = generator_dir(ws, name)
    meta_path = target / "generator.json"
    if not meta_path.is_file():
        known = [g.name for g in list_generators(ws)]
        raise GeneratorNotFoundError(
            f"no generator named {name!r} in {ws.root}",
            hint=f"fitted: {', '.join(known)}" if known else "fit one with `alphaloop synth fit`",
        )
    meta = json.loads(meta_path.read_text())
    with np.load(target / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    return _record(meta), generator_from_state(meta, arrays)


def sample_paths(
    ws: Workspace,
    name: str,
    n_paths: int,
    length: int,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    *,
    label: str = "",
) -> list[Panel]:
    """``n_paths`` synthetic Panels from stored generator ``name``.

    ``params`` changes sampling parameters only (e.g. ``start_regime``,
    ``stay_longer`` of a regime generator); ``label`` names the draw (checked
    like a generator name) and goes into every path's origin.
    """
    if label:
        generator_dir(ws, label)  # the same rules as a name
    _, gen = load_generator(ws, name)
    if params:
        gen = gen.with_params(**params)
    return gen.sample(n_paths, length, seed, name=name, label=label)


def write_paths(ws: Workspace, panels: list[Panel], out_dir: Path) -> list[Path]:
    """Write each path as long-format Parquet ``path-0000.parquet`` (or ``LABEL-0000``), marked
    synthetic.

    The files carry the origin in their schema metadata; the importer
    refuses them. Refused inside the workspace's data store.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out_dir).resolve()
    if out.is_relative_to(ws.data_dir.resolve()):
        raise SynthError(f"{out} is inside the workspace's data store; choose another directory")
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out} exists and is not a directory")
    written = []
    for panel in panels:
        origin = panel.synthetic
        if origin is None:
            raise SynthError("write_paths writes synthetic panels only")
        table = pa.Table.from_pandas(panel.to_long(), preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[SYNTHETIC_PARQUET_KEY] = json.dumps(origin.to_dict(), default=str).encode()
        table = table.replace_schema_metadata(meta)
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf)
        path = out / f"{origin.label or 'path'}-{origin.path:04d}.parquet"
        write_atomic(path, buf.getvalue().to_pybytes())
        written.append(path)
    return written


def parse_params(text: str | None) -> dict[str, Any]:
    """Generator parameters from ``'{"vol": "gjr"}'`` (JSON) or ``'vol=gjr,copula=t'``.

    In the ``key=value`` form a value is read as JSON when it parses
    (numbers, ``true``, ``null``), else kept as text.
    """
    if text is None or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SynthError(
                f"--params is not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(value, dict):
            raise SynthError("--params JSON must be an object")
        return value
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise SynthError(
                f"--params part {part!r} is not key=value", hint="e.g. vol=gjr,copula=t"
            )
        try:
            out[key.strip()] = json.loads(raw.strip())
        except json.JSONDecodeError:
            out[key.strip()] = raw.strip()
    return out


def generator_stress_test(
    ws: Workspace,
    name: str,
    weights: dict[str, float] | None = None,
    *,
    n_paths: int = 10_000,
    horizon: int = 21,
    confidence: float = 0.99,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    max_loss: float | None = None,
    max_drawdown: float | None = None,
) -> MonteCarloStress:
    """Monte Carlo stress of a portfolio over paths drawn by stored generator ``name``.

    ``weights`` (fractions of capital, rebalanced every bar) default to equal
    weights over the generator's assets; ``params`` changes sampling
    parameters (e.g. ``start_regime=crisis``). See
    :func:`alphaloop.risk.generator_stress`.
    """
    from alphaloop.risk import StressLimits, generator_stress

    _, gen = load_generator(ws, name)
    if params:
        gen = gen.with_params(**params)
    if not weights:
        weights = {a: 1.0 / len(gen.assets_) for a in gen.assets_}
    label = f"generator {name!r} ({gen.kind})" + (f" with {params}" if params else "")
    return generator_stress(
        gen,
        weights,
        n_paths=n_paths,
        horizon=horizon,
        confidence=confidence,
        limits=StressLimits(max_loss=max_loss, max_drawdown=max_drawdown),
        seed=seed,
        source=label,
    )


def parse_weights(text: str | None) -> dict[str, float]:
    """Weights from ``'AAPL=0.5,JPM=0.5'`` (fractions of capital); empty when not given."""
    if text is None or not text.strip():
        return {}
    out: dict[str, float] = {}
    for part in text.split(","):
        asset, sep, raw = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[asset.strip()] = float(raw)
        except ValueError:
            raise SynthError(
                f"--weights part {part!r} is not ASSET=NUMBER", hint="e.g. AAPL=0.5,JPM=0.5"
            ) from None
    return out
