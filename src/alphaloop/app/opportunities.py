"""Use case: rank a dataset's symbols as trading opportunities at a bar.

The scoring is :mod:`alphaloop.live.ranker`'s; this module reads the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alphaloop.live.ranker import OpportunityRanker, RankerConfig, Ranking

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = ["OpportunityReport", "rank_opportunities"]


@dataclass(frozen=True)
class OpportunityReport:
    """A ranking of one dataset with what to keep in mind when reading it."""

    data: str
    ranking: Ranking
    top: int | None
    caveats: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``data``, ``at``, ``ranking`` (the top rows), ``excluded``, ``caveats``."""
        body = self.ranking.to_dict()
        if self.top is not None:
            body["ranking"] = body["ranking"][: self.top]
        return {"data": self.data, **body, "caveats": list(self.caveats)}


def rank_opportunities(
    workspace: Workspace,
    data: str,
    *,
    at: Any = None,
    top: int | None = None,
    config: RankerConfig | None = None,
    book: dict[str, float] | None = None,
) -> OpportunityReport:
    """Rank the symbols of dataset ``data`` at bar ``at`` (default: its last readable bar).

    Only the fields the ranker uses are read (``close``, and ``volume`` when the
    dataset has it); a sealed holdout is never read, so ``at`` inside it ranks at the
    last bar before the seal.

    Raises
    ------
    OpportunityError
        A bad ``at``, ``top``, ``book`` or setting; a dataset without closes.
    DatasetNotFoundError
        No dataset of that name.
    """
    from alphaloop.live.ranker import OpportunityError

    if top is not None and top < 1:
        raise OpportunityError(f"top must be >= 1, got {top}")
    info = workspace.data.info(data)
    if "close" not in info.fields:
        raise OpportunityError(
            f"dataset {data!r} has no close field; the ranker reads closes",
            hint=f"fields: {', '.join(info.fields)}",
        )
    fields = ["close"] + (["volume"] if "volume" in info.fields else [])
    panel = workspace.data.load(data, fields=fields)
    ranking = OpportunityRanker(config).rank(panel, at, book=book)
    caveats = list(info.caveats)
    if "volume" not in info.fields:
        caveats.append("no volume field: liquidity counts as neutral for every symbol")
    if panel.sealed_end is not None:
        caveats.append(f"the sealed holdout from {panel.sealed_end.boundary:%Y-%m-%d} is not read")
    return OpportunityReport(data=data, ranking=ranking, top=top, caveats=tuple(caveats))
