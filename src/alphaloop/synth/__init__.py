"""Synthetic market data: generators fitted on real Panels, and the stylized-facts suite.

Generators (one contract, :class:`Generator`: ``fit(panel)`` then
``sample(n_paths, length, seed)`` -> Panels labelled
:class:`~alphaloop.data.SyntheticOrigin`): :class:`BlockBootstrap`
(stationary and circular), :class:`GarchCopula` (GARCH, GJR, EGARCH with a
Gaussian or Student-t copula), :class:`RegimeSwitching` (Markov switching,
with "more crisis" scenarios), :class:`QuantGAN` (a temporal convolutional
GAN; torch, imported on use) and the :class:`NormalBaseline`. Paths get
open/high/low/volume when the fitted panel has them (:mod:`.ohlcv`).
:func:`stylized_facts` scores returns against the facts of real returns.
Pure computation: arrays and Panels in, arrays, Panels and reports out.
"""

from alphaloop.synth.base import MIN_FIT_BARS, Generator, check_draw, log_returns
from alphaloop.synth.bootstrap import BlockBootstrap
from alphaloop.synth.facts import FACTS, Fact, FactsReport, stylized_facts
from alphaloop.synth.gan import QuantGAN
from alphaloop.synth.garch import GarchCopula
from alphaloop.synth.normal import NormalBaseline
from alphaloop.synth.ohlcv import BarShapes, ohlcv_paths
from alphaloop.synth.regime import RegimeSwitching, regime_names
from alphaloop.synth.registry import GENERATORS, generator_from_state, make_generator

__all__ = [
    "FACTS",
    "GENERATORS",
    "MIN_FIT_BARS",
    "BarShapes",
    "BlockBootstrap",
    "Fact",
    "FactsReport",
    "GarchCopula",
    "Generator",
    "NormalBaseline",
    "QuantGAN",
    "RegimeSwitching",
    "check_draw",
    "generator_from_state",
    "log_returns",
    "make_generator",
    "ohlcv_paths",
    "regime_names",
    "stylized_facts",
]
