"""Where a synthetic Panel came from: the label it carries everywhere it goes.

A Panel drawn from a generator carries a :class:`SyntheticOrigin` (see
:attr:`alphaloop.data.Panel.synthetic`): the generator's kind and name, its
parameters, the seed and path number, and the real dataset it was fitted on.
Slices, selections and added fields keep it; its content hash differs from
any real panel's; backtests, tearsheets and reports on it say so, and files
written from it are refused by the importer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SYNTHETIC_PARQUET_KEY", "SyntheticOrigin"]

#: Key of the Parquet schema metadata that marks a file as synthetic; the
#: importer refuses files carrying it.
SYNTHETIC_PARQUET_KEY = b"alphaloop.synthetic"


@dataclass(frozen=True)
class SyntheticOrigin:
    """The provenance of a synthetic Panel.

    Attributes
    ----------
    generator : str
        Generator kind (``bootstrap``, ``garch``, ``regime``, ``normal``, ...).
    name : str
        The fitted generator's name (the workspace's, or the kind when unnamed).
    params : dict
        The generator's parameters, JSON-ready.
    seed : int
        Seed of the draw.
    path : int
        Path number within the draw (0-based).
    source : str
        The real dataset the generator was fitted on (name, version), or ``""``.
    source_hash : str
        Content hash of the panel it was fitted on, or ``""``.
    label : str
        A name given to the draw (e.g. ``crash-x3``), or ``""``.
    """

    generator: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    path: int = 0
    source: str = ""
    source_hash: str = ""
    label: str = ""

    def describe(self) -> str:
        """One line for reports: ``SYNTHETIC (garch 'g1', seed 7, path 3, fitted on sp500 v1)``."""
        fitted = f", fitted on {self.source}" if self.source else ""
        named = f"{self.label!r}: " if self.label else ""
        return (
            f"SYNTHETIC ({named}{self.generator} {self.name!r}, seed {self.seed}, "
            f"path {self.path}{fitted})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``synthetic: true`` first)."""
        return {
            "synthetic": True,
            "generator": self.generator,
            "name": self.name,
            "params": self.params,
            "seed": self.seed,
            "path": self.path,
            "source": self.source,
            "source_hash": self.source_hash,
            "label": self.label,
        }

    def canonical(self) -> bytes:
        """Canonical JSON bytes (sorted keys), mixed into the panel's content hash."""
        return json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
