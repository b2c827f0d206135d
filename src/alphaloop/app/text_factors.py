"""Text factors in a workspace: their definitions, the embedding cache, and the panel fields.

- Definitions live in ``text_factors/NAME.yaml`` (one
  :class:`~alphaloop.factors.text.TextFactorSpec` each, written atomically).
- Embeddings of documents and phrases are cached under ``cache/embeddings``,
  keyed by model and text, so a document is embedded once per workspace.
- :func:`attach_text_fields` computes the ``text:NAME`` fields of a panel
  from the workspace's documents (table ``documents``), point in time, for
  expressions that use ``Text("NAME")``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from alphaloop.data import Panel, as_utc
from alphaloop.errors import AlphaloopError, ConfigError, ExpressionError
from alphaloop.factors import TEXT_PREFIX
from alphaloop.factors.text.spec import TextFactorSpec
from alphaloop.files import write_atomic
from alphaloop.specfile import load_spec_file

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.factors.text.embed import Embedder, EmbeddingCache

__all__ = [
    "add_text_factor",
    "attach_expression_texts",
    "attach_text_fields",
    "embedding_cache",
    "expression_text_names",
    "get_text_factor",
    "list_text_factors",
    "load_documents",
    "remove_text_factor",
    "text_factor_summary",
    "text_factors_dir",
    "text_fields_hash",
]


def text_factors_dir(ws: Workspace) -> Path:
    """Where the workspace keeps its text factor definitions: ``ROOT/text_factors``."""
    return ws.root / "text_factors"


def embedding_cache(ws: Workspace) -> EmbeddingCache:
    """The workspace's embedding cache (``ROOT/cache/embeddings``); only read when the
    workspace is read-only."""
    from alphaloop.factors.text.embed import EmbeddingCache

    return EmbeddingCache(ws.root / "cache" / "embeddings", read_only=ws.read_only)


# ------------------------------------------------------------------ definitions
def add_text_factor(
    ws: Workspace, source: str | Path | TextFactorSpec, *, replace: bool = False
) -> TextFactorSpec:
    """Validate a text factor (a YAML/JSON file or a spec) and keep it in the workspace.

    Raises
    ------
    SpecError
        The file is missing or a field is invalid (named, with what is allowed).
    ConfigError
        A text factor of that name exists and ``replace`` is False.
    """
    spec = (
        source
        if isinstance(source, TextFactorSpec)
        else load_spec_file(source, TextFactorSpec, "text factor")
    )
    target = text_factors_dir(ws) / f"{spec.name}.yaml"
    if target.exists() and not replace:
        raise ConfigError(
            f"text factor {spec.name!r} exists ({target})",
            hint="remove it first, or replace it (`--replace`)",
        )
    text = yaml.safe_dump(spec.to_dict(), sort_keys=False, allow_unicode=True)
    write_atomic(target, text)
    return spec


def list_text_factors(ws: Workspace) -> list[TextFactorSpec]:
    """The workspace's text factors, by name."""
    folder = text_factors_dir(ws)
    if not folder.is_dir():
        return []
    return [load_spec_file(p, TextFactorSpec, "text factor") for p in sorted(folder.glob("*.yaml"))]


def get_text_factor(ws: Workspace, name: str) -> TextFactorSpec:
    """One text factor of the workspace (ConfigError naming the defined ones if unknown)."""
    path = text_factors_dir(ws) / f"{name}.yaml"
    if not path.is_file():
        known = [s.name for s in list_text_factors(ws)]
        raise ConfigError(
            f"no text factor {name!r} in workspace {ws.root}",
            hint=(f"defined: {', '.join(known)}" if known else "none is defined")
            + "; add one with `alphaloop factor text add SPEC.yaml`",
        )
    spec = load_spec_file(path, TextFactorSpec, "text factor")
    if spec.name != name:
        raise ConfigError(f"{path} defines text factor {spec.name!r}, not {name!r}")
    return spec


def remove_text_factor(ws: Workspace, name: str) -> Path:
    """Delete a text factor's definition; returns the path removed."""
    get_text_factor(ws, name)
    path = text_factors_dir(ws) / f"{name}.yaml"
    path.unlink()
    return path


# ------------------------------------------------------------------ documents
def load_documents(ws: Workspace, assets: Sequence[str], end: Any = None) -> pd.DataFrame:
    """The workspace's documents about ``assets`` published up to ``end`` (inclusive).

    Columns ``doc_id, asset, published_at (UTC), source, kind, text``, sorted
    by ``published_at`` then ``doc_id``.
    """
    from alphaloop.data.documents import DocumentStore

    return DocumentStore(ws.db).load(assets=list(assets), end=end)


# ------------------------------------------------------------------ panel fields
def attach_text_fields(
    ws: Workspace,
    panel: Panel,
    names: Sequence[str],
    *,
    fit_end: Any = None,
    embedder: Embedder | None = None,
) -> Panel:
    """``panel`` with a field ``text:NAME`` for each text factor in ``names``.

    Values are computed on the panel's bars and assets from the workspace's
    documents published up to its last bar, point in time (see
    :mod:`alphaloop.factors.text.compute`). Embeddings come from the
    workspace's cache; the model loads only for texts not cached yet.

    Parameters
    ----------
    fit_end : datetime, optional
        Fit end of ``pca`` factors: only documents available before it shape
        the components. Default: the panel's last bar.
    embedder : Embedder, optional
        A loaded model to reuse (default: a new one, loaded on first need).
    """
    from alphaloop.factors.text.compute import text_factor_values
    from alphaloop.factors.text.embed import Embedder, embed_texts

    specs = [get_text_factor(ws, n) for n in dict.fromkeys(names)]
    if not specs or panel.n_times == 0:
        return panel
    docs = load_documents(ws, panel.assets, end=panel.index[-1])
    model = embedder or Embedder()
    cache = embedding_cache(ws)
    texts = docs["text"].tolist()
    phrases = list(dict.fromkeys(p for s in specs for p in s.phrases()))
    vectors = embed_texts(texts + phrases, model, cache)
    doc_vectors, phrase_vectors = vectors[: len(texts)], vectors[len(texts) :]
    by_phrase = dict(zip(phrases, phrase_vectors, strict=True))
    fields = {}
    for spec in specs:
        values = text_factor_values(
            spec, docs, doc_vectors, panel.index, panel.assets, fit_end=fit_end, phrases=by_phrase
        )
        fields[f"{TEXT_PREFIX}{spec.name}"] = values
    return panel.with_fields(fields)


def text_fields_hash(panel: Panel, names: Sequence[str]) -> str:
    """SHA-256 of the ``text:NAME`` fields of ``panel`` (for cache keys of expressions)."""
    h = hashlib.sha256(b"alphaloop-text-fields-v1")
    for name in sorted(set(names)):
        h.update(name.encode())
        h.update(np.ascontiguousarray(panel[f"{TEXT_PREFIX}{name}"], dtype=np.float64).data)
    return h.hexdigest()


def text_factor_summary(
    ws: Workspace,
    name: str,
    data: str,
    *,
    start: Any = None,
    end: Any = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """A text factor's values on a dataset, summarized: coverage, mean, spread, span.

    History before ``start`` is computed too (documents published before it
    count by their age) but left out of the summary.
    """
    spec = get_text_factor(ws, name)
    panel = ws.data.load(data, end=end)
    panel = attach_text_fields(ws, panel, [name], embedder=embedder)
    if start is not None:
        panel = panel.iloc(slice(int(panel.index.searchsorted(as_utc(start))), None))
    if panel.n_times == 0:
        raise AlphaloopError(f"no data of {data!r} between {start} and {end}")
    values = panel[f"{TEXT_PREFIX}{name}"]
    members = panel.membership
    valid = ~np.isnan(values) & members
    rows = np.flatnonzero(valid.any(axis=1))
    picked = values[valid]
    return {
        "name": name,
        "kind": spec.kind,
        "dataset": data,
        "start": panel.index[0].isoformat(),
        "end": panel.index[-1].isoformat(),
        "assets": panel.n_assets,
        "times": panel.n_times,
        "cells": int(members.sum()),
        "valid": int(valid.sum()),
        "coverage": float(valid.sum() / members.sum()) if members.any() else 0.0,
        "assets_with_values": int(valid.any(axis=0).sum()),
        "first_value": panel.index[rows[0]].isoformat() if rows.size else None,
        "last_value": panel.index[rows[-1]].isoformat() if rows.size else None,
        "mean": float(picked.mean()) if picked.size else None,
        "std": float(picked.std()) if picked.size else None,
        "min": float(picked.min()) if picked.size else None,
        "max": float(picked.max()) if picked.size else None,
        "spec": spec.to_dict(),
    }


def expression_text_names(expressions: Iterable[str]) -> tuple[str, ...]:
    """The text factors the expressions read (``Text("NAME")``), sorted.

    Expressions that do not parse are passed over: compiling them reports the error.
    """
    from alphaloop.factors import parse, text_names

    names: set[str] = set()
    for text in expressions:
        try:
            names.update(text_names(parse(text)))
        except AlphaloopError:
            continue
    return tuple(sorted(names))


def attach_expression_texts(
    ws: Workspace | None,
    panel: Panel,
    expressions: Iterable[str],
    *,
    fit_end: Any = None,
    embedder: Embedder | None = None,
) -> tuple[Panel, str]:
    """``panel`` with the text fields the expressions read, and a hash of those fields.

    The hash is ``""`` when no expression reads a text factor (the panel is
    returned as it is); it belongs in the cache key of values computed from
    the fields, since documents can be added to a dataset's span.

    Raises
    ------
    ExpressionError
        An expression reads a text factor and no workspace is given.
    """
    names = expression_text_names(expressions)
    if not names:
        return panel, ""
    if ws is None:
        raise ExpressionError(
            f'Text("{names[0]}") reads a workspace\'s text factor, and no workspace was given',
            hint="evaluate it through a workspace (workspace=...)",
        )
    panel = attach_text_fields(ws, panel, names, fit_end=fit_end, embedder=embedder)
    return panel, text_fields_hash(panel, names)
