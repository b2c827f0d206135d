"""Named historical crisis windows for stress replays.

Each window runs from the close of ``start`` (a market peak, or the eve of
the shock) to the close of ``end`` (the trough or the end of the episode),
dated on US equity markets (S&P 500 closes). A replay compounds the bars
stamped after ``start`` up to and including ``end``. The dates agree with
the crisis regimes of :mod:`alphaloop.validation.regimes`, except
``china-2015``, which covers August 2015 only (the regime runs on to the
oil slump of February 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from alphaloop.risk.errors import ScenarioError

__all__ = ["SCENARIOS", "Scenario", "scenario"]


@dataclass(frozen=True)
class Scenario:
    """A named window of history: from the close of ``start`` to the close of ``end``."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    description: str

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ScenarioError(
                f"scenario {self.name!r}: start {self.start.date()} is not before "
                f"end {self.end.date()}",
                field="scenario",
            )

    @classmethod
    def of(cls, name: str, start: str, end: str, description: str = "") -> Scenario:
        """A scenario from ISO dates (``"2020-02-19"``)."""
        try:
            first, last = pd.Timestamp(start), pd.Timestamp(end)
        except (ValueError, TypeError):
            raise ScenarioError(
                f"scenario {name!r}: dates must be ISO dates, got {start!r} and {end!r}",
                field="scenario",
            ) from None
        return cls(
            name,
            first.normalize().tz_localize(None),
            last.normalize().tz_localize(None),
            description,
        )


_BUILT_IN = (
    Scenario.of(
        "ltcm-1998",
        "1998-07-17",
        "1998-10-08",
        "Russian default and the LTCM collapse: S&P 500 peak of July 17 to the October 8 low",
    ),
    Scenario.of(
        "dotcom-2000",
        "2000-03-24",
        "2002-10-09",
        "dot-com bust: S&P 500 peak of March 24, 2000 to the October 9, 2002 low",
    ),
    Scenario.of(
        "gfc-2008",
        "2007-10-09",
        "2009-03-09",
        "global financial crisis: S&P 500 peak of October 9, 2007 to the March 9, 2009 low",
    ),
    Scenario.of(
        "euro-2011",
        "2011-07-22",
        "2011-10-03",
        "euro-area debt crisis and the US downgrade: July 22 to the October 3, 2011 low",
    ),
    Scenario.of(
        "china-2015",
        "2015-08-10",
        "2015-08-25",
        "August 2015: yuan devaluation (August 11) to the August 25 low",
    ),
    Scenario.of(
        "q4-2018",
        "2018-09-20",
        "2018-12-24",
        "2018 Q4 selloff (Fed tightening, trade war): S&P 500 peak of September 20 to December 24",
    ),
    Scenario.of(
        "covid-2020",
        "2020-02-19",
        "2020-03-23",
        "COVID-19 crash: S&P 500 peak of February 19 to the March 23, 2020 low",
    ),
    Scenario.of(
        "rates-2022",
        "2022-01-03",
        "2022-10-12",
        "2022 inflation and rate hikes: S&P 500 peak of January 3 to the October 12 low",
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _BUILT_IN}
"""The built-in crisis windows by name."""


def scenario(name: str) -> Scenario:
    """The built-in scenario ``name``, or :class:`ScenarioError` listing the known names."""
    found = SCENARIOS.get(name)
    if found is None:
        raise ScenarioError(
            f"scenario {name!r} is unknown; built-in scenarios: {', '.join(SCENARIOS)}",
            field="scenario",
            hint="or define a window with Scenario.of(name, start, end)",
        )
    return found
