"""Strategy templates: the classic families as typed spec parts that build a book.

A :class:`~alphaloop.backtest.spec.StrategySpec` carries one under
``template:``; the backtest runs it in both engines with the shared cost and
fill model, scans it for lookahead and validates it like any spec. See
:mod:`alphaloop.strategies.base` for what a template is.
"""

from __future__ import annotations

from alphaloop.strategies.bands import Bollinger, Donchian, RelativeStrength
from alphaloop.strategies.base import TemplateInputs, TemplateOutput, TemplateParams
from alphaloop.strategies.factor_portfolio import FactorPortfolio
from alphaloop.strategies.market_making import MarketMaking, QuotePlan
from alphaloop.strategies.momentum import CrossSectionalMomentum
from alphaloop.strategies.pca_stat_arb import PcaStatArb
from alphaloop.strategies.registry import TEMPLATE_CLASSES, TEMPLATES, TemplateField, template_class

__all__ = [
    "TEMPLATES",
    "TEMPLATE_CLASSES",
    "Bollinger",
    "CrossSectionalMomentum",
    "Donchian",
    "FactorPortfolio",
    "MarketMaking",
    "PcaStatArb",
    "QuotePlan",
    "RelativeStrength",
    "TemplateField",
    "TemplateInputs",
    "TemplateOutput",
    "TemplateParams",
    "template_class",
]
