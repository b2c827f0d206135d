"""The generator kinds by name, built from parameters or restored from storage."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from alphaloop.errors import SynthError
from alphaloop.synth.base import Generator
from alphaloop.synth.bootstrap import BlockBootstrap
from alphaloop.synth.gan import QuantGAN
from alphaloop.synth.garch import GarchCopula
from alphaloop.synth.normal import NormalBaseline
from alphaloop.synth.regime import RegimeSwitching

__all__ = ["GENERATORS", "generator_from_state", "make_generator"]

#: Generator classes by kind; a new kind is added here.
GENERATORS: dict[str, type[Generator]] = {
    "bootstrap": BlockBootstrap,
    "garch": GarchCopula,
    "regime": RegimeSwitching,
    "gan": QuantGAN,
    "normal": NormalBaseline,
}


def make_generator(kind: str, params: dict[str, Any] | None = None) -> Generator:
    """An unfitted generator of ``kind`` with ``params`` (names checked, typed errors)."""
    cls = GENERATORS.get(kind)
    if cls is None:
        raise SynthError(f"unknown generator {kind!r}; generators: {sorted(GENERATORS)}")
    params = dict(params or {})
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    bad = sorted(set(params) - set(allowed))
    if bad:
        raise SynthError(
            f"generator {kind!r} has no parameter {bad[0]!r}; parameters: {allowed or 'none'}"
        )
    return cls(**params)


def generator_from_state(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Generator:
    """The fitted generator that :meth:`Generator.state` described."""
    gen = make_generator(str(meta.get("kind")), meta.get("params") or {})
    return gen.restore(meta, arrays)
