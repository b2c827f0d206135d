"""Every strategy template, by name, and the union a spec's ``template:`` field takes."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from alphaloop.strategies.bands import Bollinger, Donchian, RelativeStrength
from alphaloop.strategies.base import TemplateParams
from alphaloop.strategies.factor_portfolio import FactorPortfolio
from alphaloop.strategies.market_making import MarketMaking
from alphaloop.strategies.momentum import CrossSectionalMomentum
from alphaloop.strategies.pca_stat_arb import PcaStatArb

__all__ = ["TEMPLATES", "TEMPLATE_CLASSES", "TemplateField", "template_class"]

TEMPLATE_CLASSES: tuple[type[TemplateParams], ...] = (
    CrossSectionalMomentum,
    Bollinger,
    RelativeStrength,
    Donchian,
    FactorPortfolio,
    MarketMaking,
    PcaStatArb,
)

TEMPLATES: dict[str, type[TemplateParams]] = {
    cls.model_fields["template"].default: cls for cls in TEMPLATE_CLASSES
}

TemplateField: Any = (
    Annotated[Union[TEMPLATE_CLASSES], Field(discriminator="template")]  # noqa: UP007
    if len(TEMPLATE_CLASSES) > 1
    else TEMPLATE_CLASSES[0]
)


def template_class(name: str) -> type[TemplateParams]:
    """The template class called ``name``.

    Raises
    ------
    KeyError
        With the known names.
    """
    if name not in TEMPLATES:
        raise KeyError(f"unknown strategy template {name!r}; known: {', '.join(sorted(TEMPLATES))}")
    return TEMPLATES[name]
