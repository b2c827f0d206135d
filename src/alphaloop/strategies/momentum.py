"""Momentum templates: cross-sectional momentum with a skipped recent period.

``xs_momentum`` ranks assets by their return from ``lookback`` bars ago to
``skip`` bars ago (Jegadeesh and Titman's 12-1 momentum is lookback 252,
skip 21 on daily bars): the most recent month is skipped because returns
over it tend to reverse. The spec's portfolio rule turns the score into a
book (top k long, or a quantile long-short).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from alphaloop.strategies.base import OutputKind, TemplateInputs, TemplateOutput, TemplateParams

__all__ = ["CrossSectionalMomentum"]


class CrossSectionalMomentum(TemplateParams):
    """Cross-sectional momentum: rank by the return from ``lookback`` to ``skip`` bars ago.

    Parameters
    ----------
    lookback : int
        Bars back to the start of the formation period (252 = a year of days).
    skip : int
        Most recent bars left out (21 = a month of days); 0 keeps them.
    """

    template: Literal["xs_momentum"] = "xs_momentum"
    lookback: int = Field(252, ge=2, le=5000)
    skip: int = Field(21, ge=0, le=1000)

    OUTPUT: ClassVar[OutputKind] = "signal"
    TITLE: ClassVar[str] = "Cross-sectional momentum"
    SUMMARY: ClassVar[str] = (
        "rank assets by their return from lookback to skip bars ago; the portfolio rule "
        "holds the winners (and shorts the losers in a long-short book)"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "returns persist across assets over months (the momentum premium)",
        "a universe wide enough to rank: at least 2k assets for a top-k book",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "survivorship: a universe of today's survivors holds no past losers that died; "
        "bundled sp500-stocks carries that caveat into every result",
        "momentum crashes: long-short momentum loses heavily in sharp rebounds; look at the "
        "worst month, not only the Sharpe",
        "skip = 0 mixes in short-term reversal, which costs turnover",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "lookback": (63, 126, 189, 252),
        "skip": (0, 5, 21),
    }

    @model_validator(mode="after")
    def _skip_before_lookback(self) -> CrossSectionalMomentum:
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be below lookback ({self.lookback})")
        return self

    def warmup(self) -> int:
        return self.lookback

    def spec_defaults(self) -> dict[str, Any]:
        return {
            "portfolio": {"method": "top_k", "k": 5},
            "rebalance": {"frequency": "monthly"},
        }

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        close = np.asarray(inputs.panel["close"], dtype=np.float64)
        score = np.full(close.shape, np.nan)
        if close.shape[0] > self.lookback:
            with np.errstate(invalid="ignore", divide="ignore"):
                end = close[self.lookback - self.skip : close.shape[0] - self.skip]
                start = close[: close.shape[0] - self.lookback]
                score[self.lookback :] = end / start - 1.0
        score[~np.isfinite(score)] = np.nan
        return TemplateOutput(kind="signal", signal=score)
