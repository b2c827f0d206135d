"""Indicator families: expression templates with integer parameter grids.

Each :class:`Template` is an expression of the factor language with
``{param}`` placeholders, oriented so that a higher value is more
attractive, and a grid of allowed integer values per parameter (windows and
lags in bars, the current bar included). Library templates name an
Alpha158 factor (``ROC{window}`` -> ``ROC20``) with the direction that makes
it a signal (``sign``); in a composite signal they are referenced by name
(``factor:``), alone they are inlined as their expression text.

Parameter grids are ordered, so a neighbour of a value is the previous or
the next one in its grid (see :func:`alphaloop.research.operators.mutate`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from alphaloop.factors.ast import Field
from alphaloop.factors.library.alpha158 import ROLLING
from alphaloop.factors.parser import parse

__all__ = ["FAMILIES", "Template", "feasible_templates", "template"]

_EPS = "1e-12"
_RET = "($close/Ref($close, 1)-1)"


@dataclass(frozen=True)
class Template:
    """One indicator: an expression template and its integer parameter grids.

    Attributes
    ----------
    family : str
        Family name (``momentum``, ``mean_reversion``, ...).
    name : str
        Template name, unique within its family.
    text : str
        Expression with ``{param}`` placeholders; for a library template,
        the Alpha158 name pattern (``ROC{window}``).
    grid : tuple of (str, tuple of int)
        Each parameter and its allowed values, in increasing order.
    fields : tuple of str
        Data fields the expression reads.
    factor : bool
        Whether ``text`` names an Alpha158 library factor.
    sign : {1, -1}
        Direction applied to a library factor so that higher is better.
    """

    family: str
    name: str
    text: str
    grid: tuple[tuple[str, tuple[int, ...]], ...]
    fields: tuple[str, ...] = ("close",)
    factor: bool = False
    sign: int = 1

    @property
    def params(self) -> dict[str, tuple[int, ...]]:
        """Parameter name -> allowed values."""
        return dict(self.grid)

    def random_params(self, rng: np.random.Generator) -> dict[str, int]:
        """One value drawn uniformly from each parameter's grid."""
        return {p: int(values[int(rng.integers(len(values)))]) for p, values in self.grid}

    def check(self, params: Mapping[str, int]) -> dict[str, int]:
        """``params`` as plain ints, after checking each is on its grid."""
        out: dict[str, int] = {}
        for p, values in self.grid:
            if p not in params:
                raise ValueError(f"template {self.family}/{self.name} needs parameter {p!r}")
            v = int(params[p])
            if v not in values:
                raise ValueError(
                    f"template {self.family}/{self.name}: {p}={v} is not on its grid {values}"
                )
            out[p] = v
        extra = set(params) - set(out)
        if extra:
            raise ValueError(f"template {self.family}/{self.name}: unknown params {sorted(extra)}")
        return out

    def factor_name(self, params: Mapping[str, int]) -> str:
        """The Alpha158 name of a library template (``ROC20``)."""
        return self.text.format(**self.check(params))

    def expression(self, params: Mapping[str, int]) -> str:
        """The expression text, higher = more attractive (library factors signed)."""
        p = self.check(params)
        if not self.factor:
            return self.text.format(**p)
        stem, window = self.text.split("{", 1)[0], next(iter(p.values()))
        text = ROLLING[stem].format(d=window)
        return f"-({text})" if self.sign < 0 else text

    def component(self, params: Mapping[str, int]) -> dict[str, object]:
        """The composite component: ``expr`` or, for a library template, ``factor`` and ``sign``."""
        if self.factor:
            return {"factor": self.factor_name(params), "normalize": "rank", "sign": self.sign}
        return {"expr": self.expression(params), "normalize": "rank", "sign": 1}


def _t(
    family: str, name: str, text: str, fields: tuple[str, ...] = ("close",), **grid: tuple[int, ...]
) -> Template:
    return Template(family, name, text, tuple(grid.items()), fields)


def _lib(stem: str, sign: int) -> Template:
    text = ROLLING[stem]
    fields = tuple(sorted({n.name for n in parse(text.format(d=5)).walk() if isinstance(n, Field)}))
    return Template(
        "library",
        stem.lower(),
        stem + "{window}",
        (("window", (5, 10, 20, 30, 60)),),
        fields,
        factor=True,
        sign=sign,
    )


_TEMPLATES: tuple[Template, ...] = (
    # momentum: past return, optionally skipping the most recent bars
    _t("momentum", "mom", "$close/Ref($close, {lookback})-1", lookback=(21, 63, 126, 189, 252)),
    _t(
        "momentum",
        "mom_skip",
        "Ref($close, {skip})/Ref($close, {lookback})-1",
        lookback=(63, 126, 189, 252),
        skip=(5, 10, 21),
    ),
    _t(
        "momentum",
        "mom_risk_adj",
        f"($close/Ref($close, {{lookback}})-1)/(Std({_RET}, {{lookback}})+{_EPS})",
        lookback=(63, 126, 252),
    ),
    # mean reversion: short-term reversal, distance below a moving average
    _t("mean_reversion", "reversal", "Ref($close, {lookback})/$close-1", lookback=(1, 2, 3, 5, 10)),
    _t("mean_reversion", "ma_distance", "Mean($close, {window})/$close-1", window=(5, 10, 20, 50)),
    _t(
        "mean_reversion",
        "zscore",
        f"(Mean($close, {{window}})-$close)/(Std($close, {{window}})+{_EPS})",
        window=(10, 20, 50),
    ),
    # volatility: low volatility is attractive
    _t("volatility", "low_vol", f"-Std({_RET}, {{window}})", window=(20, 60, 126, 252)),
    _t(
        "volatility",
        "low_downside_vol",
        f"-Std(Less({_RET}, 0), {{window}})",
        window=(20, 60, 126, 252),
    ),
    # trend: moving-average crossovers and the slope of price
    _t(
        "trend",
        "ma_cross",
        "Mean($close, {fast})/Mean($close, {slow})-1",
        fast=(5, 10, 20),
        slow=(50, 100, 200),
    ),
    _t(
        "trend",
        "ema_cross",
        "EMA($close, {fast})/EMA($close, {slow})-1",
        fast=(5, 12, 20),
        slow=(26, 50, 100),
    ),
    _t("trend", "slope", "Slope($close, {window})/$close", window=(20, 60, 126)),
    # breakout: position in the recent channel, nearness to the high
    _t(
        "breakout",
        "channel",
        "($close-Min($close, {window}))/"
        f"(Max($close, {{window}})-Min($close, {{window}})+{_EPS})",
        window=(20, 55, 126, 252),
    ),
    _t("breakout", "high_proximity", "$close/Max($close, {window})", window=(20, 55, 126, 252)),
    _t(
        "breakout",
        "channel_hl",
        f"($close-Min($low, {{window}}))/(Max($high, {{window}})-Min($low, {{window}})+{_EPS})",
        ("close", "high", "low"),
        window=(20, 55, 126, 252),
    ),
    # volume: needs a volume field
    _t(
        "volume",
        "volume_trend",
        f"Mean($volume, {{fast}})/(Mean($volume, {{slow}})+{_EPS})",
        ("volume",),
        fast=(5, 10, 20),
        slow=(60, 126),
    ),
    _t(
        "volume",
        "price_volume_corr",
        f"Corr({_RET}, Log($volume+1), {{window}})",
        ("close", "volume"),
        window=(10, 20, 60),
    ),
    _t(
        "volume",
        "volume_weighted_mom",
        f"Sum({_RET}*$volume, {{window}})/(Sum($volume, {{window}})+{_EPS})",
        ("close", "volume"),
        window=(20, 60, 126),
    ),
    # quality of trend: how straight and consistent the rise is
    _t(
        "quality",
        "trend_r2",
        "Rsquare($close, {window})*Sign(Slope($close, {window}))",
        window=(20, 60, 126, 252),
    ),
    _t("quality", "up_share", "Mean($close>Ref($close, 1), {window})", window=(20, 60, 126, 252)),
    _t(
        "quality",
        "smooth_mom",
        "($close/Ref($close, {window})-1)*Rsquare($close, {window})",
        window=(60, 126, 252),
    ),
    # library: curated Alpha158 names, signed so that higher is better
    _lib("ROC", -1),
    _lib("STD", -1),
    _lib("RSQR", 1),
    _lib("CNTD", 1),
    _lib("SUMD", 1),
    _lib("RESI", -1),
    _lib("RSV", 1),
    _lib("CORR", -1),
)

#: family -> its templates, in a fixed order
FAMILIES: dict[str, list[Template]] = {}
for _tpl in _TEMPLATES:
    FAMILIES.setdefault(_tpl.family, []).append(_tpl)


def template(family: str, name: str) -> Template:
    """The template ``family/name``; ValueError names the known ones."""
    for tpl in FAMILIES.get(family, ()):
        if tpl.name == name:
            return tpl
    known = ", ".join(f"{f}/{t.name}" for f, ts in FAMILIES.items() for t in ts)
    raise ValueError(f"no indicator template {family}/{name}; known: {known}")


def feasible_templates(family: str, fields: Collection[str]) -> list[Template]:
    """The family's templates whose fields the data has."""
    have = {f.lower() for f in fields}
    return [t for t in FAMILIES.get(family, ()) if set(t.fields) <= have]
