"""Package faces that load on first use.

A package's ``__init__`` lists its public names in ``__all__`` and maps each
to the module that defines it; this function resolves a name from that map
when it is first used, so ``import alphaloop.models`` does not pull in torch,
and ``from alphaloop.backtest import StrategySpec`` does not compile kernels.
The map is explicit (no names built from strings), so grep finds every
public name's home.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

__all__ = ["load_public"]


def load_public(package: str, home: Mapping[str, str], name: str) -> Any:
    """The public ``name`` of ``package``, imported from its home module.

    Raises
    ------
    AttributeError
        ``name`` is not one of the package's public names (as ``getattr`` would).
    """
    module = home.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
