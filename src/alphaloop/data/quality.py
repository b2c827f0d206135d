"""Data quality checks and the documented repairs.

Each check produces at most one :class:`QualityIssue` with a count and the
first few locations (file line, timestamp, asset, column, value). Errors
refuse an import unless the check has a documented repair and the user asks
for repairs; warnings never refuse an import and are kept with the dataset.

Checks (name: severity, repair):

==========================  ========  ==========================================
unparseable_timestamp       error     none
mixed_timezones             error     none (give every timestamp an offset, or none)
mixed_offsets               warning   none (several UTC offsets that follow no zone)
ambiguous_dates             warning   none (pass a time format to read them the other way)
missing_asset               error     none
non_numeric                 error     the text becomes missing (NaN)
non_finite                  error     the value becomes missing (NaN)
implausible_value           error     the value becomes missing (NaN)
unsorted_rows               error     rows are sorted by asset, then time
duplicate_rows              error     exact copies are removed (first kept)
duplicate_timestamps        error     none (rows disagree; which one is right?)
non_positive_price          error     the price becomes missing (NaN)
high_below_low              error     high and low become missing (NaN)
open_close_outside_range    error     the offending open/close becomes missing
negative_volume             error     the volume becomes missing (NaN)
no_usable_prices            error     none (no repair can create prices)
zero_volume                 warning   none
missing_values              warning   none (kept as NaN)
calendar_gaps               warning   none
off_calendar_bars           warning   none (kept; bars where the trading calendar has none)
stale_prices                warning   none
split_like_jump             warning   none
synthetic_open              warning   none (kept; a dataset caveat)
future_correlated_field     warning   none (kept; a dataset caveat)
unknown_columns             warning   none (imported as fields as they are)
==========================  ========  ==========================================

Thresholds: implausible means a price above ``1e10`` or a volume above
``1e18``; a stale run is ``stale_min_run`` (default 5) or more consecutive bars
with an identical price; a split-like jump is a bar-to-bar price ratio
within 3% of 2, 3, 4, 5, 10 or their inverses (3:2 splits are
not flagged: moves of +-50% are too common in volatile series). With a
trading calendar (:mod:`alphaloop.data.calendars`; daily and intraday bars)
a calendar gap is a bar the trading calendar expects inside an asset's own
first-to-last span that the asset does not have, and ``off_calendar_bars``
counts rows stamped where the calendar has no bar (see
:mod:`alphaloop.data.calendar_gaps`). Without one, a calendar gap is an
asset missing a timestamp that the dataset's own timestamps have inside the
asset's span, or a step between consecutive timestamps longer than 5 days
(daily data), 3 steps (intraday, within a UTC day) or 1.5 steps (weekly and
slower). ``no_usable_prices``,
``synthetic_open`` and ``future_correlated_field`` are defined, with their
thresholds, in :mod:`alphaloop.data.price_checks`.

Reports render for a terminal with :meth:`QualityReport.lines` (locations
included). A report of a stored dataset shows no location inside the
dataset's sealed holdout: :meth:`QualityReport.without_sealed` drops them and
each issue counts them in ``sealed_locations`` ("n more inside the sealed
holdout").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.data import price_checks
from alphaloop.data.calendar_gaps import calendar_checks, checkable_frequency
from alphaloop.data.calendars import TradingCalendar
from alphaloop.data.long import NAT, LongData, sort_rows
from alphaloop.data.readers import PRICE_FIELDS

__all__ = [
    "CHECKS",
    "QualityIssue",
    "QualityReport",
    "Repair",
    "apply_repairs",
    "caveat_of",
    "check_long",
    "check_rows",
    "format_location",
    "merge_sealed",
    "sort_for_checks",
]

Severity = Literal["error", "warning"]
MAX_LOCATIONS = 5
MAX_PRICE = 1e10
MAX_VOLUME = 1e18
SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 10.0)
SPLIT_TOLERANCE = 0.03
DAY_NS = 86_400 * 10**9
# every ratio within SPLIT_TOLERANCE of a split ratio or its inverse lies beyond these
# bounds (with a margin for rounding); see _check_jumps
_JUMP_ABOVE = min(SPLIT_RATIOS) * (1.0 - 2 * SPLIT_TOLERANCE)
_JUMP_BELOW = (1.0 + 2 * SPLIT_TOLERANCE) / min(SPLIT_RATIOS)
_BLOCK_ROWS = 1 << 20  # rows per block where a full-size temporary is avoided

#: check name -> (severity, documented repair or None)
CHECKS: dict[str, tuple[Severity, str | None]] = {
    "unparseable_timestamp": ("error", None),
    "mixed_timezones": ("error", None),
    "mixed_offsets": ("warning", None),
    "ambiguous_dates": ("warning", None),
    "missing_asset": ("error", None),
    "non_numeric": ("error", "text that is not a number becomes missing (NaN)"),
    "non_finite": ("error", "infinite values become missing (NaN)"),
    "implausible_value": ("error", "implausible values become missing (NaN)"),
    "unsorted_rows": ("error", "rows are sorted by asset, then timestamp"),
    "duplicate_rows": ("error", "exact duplicate rows are removed, the first kept"),
    "duplicate_timestamps": ("error", None),
    "non_positive_price": ("error", "non-positive prices become missing (NaN)"),
    "high_below_low": ("error", "high and low of those rows become missing (NaN)"),
    "open_close_outside_range": (
        "error",
        "an open or close outside [low, high] becomes missing (NaN)",
    ),
    "negative_volume": ("error", "negative volumes become missing (NaN)"),
    "no_usable_prices": ("error", None),
    "zero_volume": ("warning", None),
    "missing_values": ("warning", None),
    "calendar_gaps": ("warning", None),
    "off_calendar_bars": ("warning", None),
    "stale_prices": ("warning", None),
    "split_like_jump": ("warning", None),
    "synthetic_open": ("warning", None),
    "future_correlated_field": ("warning", None),
    "unknown_columns": ("warning", None),
}
#: warnings repeated as caveats of a bundled dataset (an import keeps every warning)
CARRIED_CHECKS = frozenset({"synthetic_open", "future_correlated_field"})
#: keys of a location that hold timestamps (ISO 8601): hidden when inside a sealed holdout
_TIME_KEYS = ("timestamp", "end", "previous")


@dataclass(frozen=True)
class QualityIssue:
    """One failed check.

    Attributes
    ----------
    check : str
        Name from :data:`CHECKS`.
    severity : {"error", "warning"}
    count : int
        How many cells, rows or runs are affected (the message says which).
    message : str
    locations : list of dict
        The first few occurrences: ``line`` (1-based file line), ``timestamp``
        (ISO 8601), ``asset``, ``column``, ``value`` where they apply.
    repair : str or None
        The documented repair, or None when the problem cannot be repaired.
    sealed_locations : int
        Occurrences inside the dataset's sealed holdout, whose locations are
        not shown (0 for files and for datasets without a holdout).
    """

    check: str
    severity: Severity
    count: int
    message: str
    locations: list[dict[str, Any]] = field(default_factory=list)
    repair: str | None = None
    sealed_locations: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "check": self.check,
            "severity": self.severity,
            "count": self.count,
            "message": self.message,
            "locations": self.locations,
            "repair": self.repair,
        }
        if self.sealed_locations:
            out["sealed_locations"] = self.sealed_locations
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QualityIssue:
        """Inverse of :meth:`to_dict` (e.g. a report stored with a dataset)."""
        return cls(
            str(d["check"]),
            d["severity"],
            int(d.get("count", 0)),
            str(d.get("message", "")),
            [dict(loc) for loc in d.get("locations") or []],
            d.get("repair"),
            int(d.get("sealed_locations", 0)),
        )

    def lines(self, max_locations: int = 3) -> list[str]:
        """Plain-text lines for a terminal: the issue, then its first locations.

        The first line is ``"severity: check: message"`` (plus the repair of a
        repairable error); each location follows on its own line, indented,
        as ``"at line 12, AAPL, 2020-01-03, close=-1.5"`` (see
        :func:`format_location`); then how many more there are, and how many
        lie inside the sealed holdout and are not shown.
        """
        head = f"{self.severity}: {self.check}: {self.message}"
        if self.severity == "error" and self.repair:
            head += f" (repair: {self.repair})"
        out = [head]
        shown = self.locations[: max(0, max_locations)]
        out.extend(f"    at {format_location(loc)}" for loc in shown)
        rest = len(self.locations) - len(shown)
        if rest > 0:
            out.append(f"    ... {rest} more location(s) in the JSON report")
        if self.sealed_locations:
            out.append(
                f"    ... {self.sealed_locations} more inside the sealed holdout (not shown)"
            )
        return out

    def without_sealed(self, boundary: pd.Timestamp | None) -> QualityIssue:
        """This issue without the locations at or after ``boundary`` (counted instead)."""
        if boundary is None or not self.locations:
            return self
        cut = _utc(boundary)
        keep = [loc for loc in self.locations if not _at_or_after(loc, cut)]
        hidden = len(self.locations) - len(keep)
        if not hidden:
            return self
        return replace(self, locations=keep, sealed_locations=self.sealed_locations + hidden)


@dataclass(frozen=True)
class Repair:
    """A repair that was applied: which check, what was done, and to how many.

    ``count`` is the number of cells set to NaN, except for ``duplicate_rows``
    (rows removed) and ``unsorted_rows`` (rows out of order).
    """

    check: str
    action: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "action": self.action, "count": self.count}


@dataclass(frozen=True)
class QualityReport:
    """All issues found in one file or dataset."""

    source: str
    rows: int
    layout: str
    issues: tuple[QualityIssue, ...]
    notes: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.issues

    @property
    def errors(self) -> tuple[QualityIssue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[QualityIssue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def repairable(self) -> bool:
        """True when every error has a documented repair."""
        return all(i.repair is not None for i in self.errors)

    def issue(self, check: str) -> QualityIssue | None:
        return next((i for i in self.issues if i.check == check), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "layout": self.layout,
            "clean": self.clean,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "issues": [i.to_dict() for i in self.issues],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QualityReport:
        """Inverse of :meth:`to_dict` (extra keys, such as stored repairs, are ignored)."""
        return cls(
            str(d.get("source", "")),
            int(d.get("rows", 0)),
            str(d.get("layout", "")),
            tuple(QualityIssue.from_dict(i) for i in d.get("issues") or []),
            tuple(str(n) for n in d.get("notes") or []),
        )

    def lines(self, max_locations: int = 3) -> list[str]:
        """Plain-text lines for a terminal: a summary, the notes, then every issue.

        Each issue is rendered by :meth:`QualityIssue.lines` (with its first
        ``max_locations`` locations), indented by two spaces. The text holds
        no markup: a rich console must print it escaped.
        """
        if self.clean:
            status = "clean"
        else:
            status = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        out = [f"{self.source}: {self.rows:,} rows ({self.layout}): {status}"]
        out.extend(f"  note: {note}" for note in self.notes)
        for issue in self.issues:
            first, *rest = issue.lines(max_locations)
            out.append(f"  - {first}")
            out.extend(f"  {line}" for line in rest)
        return out

    def without_sealed(self, boundary: pd.Timestamp | None) -> QualityReport:
        """The report without locations at or after ``boundary`` (a sealed holdout's start).

        Counts and messages stay as they are; each issue counts the locations
        it no longer shows in ``sealed_locations``.
        """
        if boundary is None:
            return self
        return replace(self, issues=tuple(i.without_sealed(boundary) for i in self.issues))


def format_location(loc: dict[str, Any]) -> str:
    """One location of an issue as text: ``"line 12, AAPL, 2020-01-03, close=-1.5, bars 7"``.

    Known keys come first in a fixed order (file line, asset, timestamp or
    span, column and value); any other key follows as ``"key value"``.
    Midnight UTC timestamps are shortened to their date.
    """
    parts: list[str] = []
    if loc.get("line") is not None:
        parts.append(f"line {loc['line']}")
    if loc.get("asset") is not None:
        parts.append(str(loc["asset"]))
    if loc.get("timestamp"):
        when = _short_time(str(loc["timestamp"]))
        if loc.get("end"):
            when += f" .. {_short_time(str(loc['end']))}"
        parts.append(when)
    if loc.get("column") is not None:
        col = str(loc["column"])
        parts.append(f"{col}={_short_value(loc['value'])}" if "value" in loc else col)
    known = {"line", "asset", "timestamp", "end", "column", "value"}
    for key, value in loc.items():
        if key in known or value is None:
            continue
        text = _short_time(value) if key in _TIME_KEYS and isinstance(value, str) else value
        parts.append(f"{key} {_short_value(text)}")
    return ", ".join(parts) if parts else "(whole dataset)"


def _short_time(text: str) -> str:
    return text[:10] if text.endswith("T00:00:00+00:00") else text


def _short_value(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _at_or_after(loc: dict[str, Any], cut: pd.Timestamp) -> bool:
    """True when any timestamp of a location lies at or after ``cut``."""
    for key in _TIME_KEYS:
        value = loc.get(key)
        if isinstance(value, str) and value:
            try:
                if _utc(value) >= cut:
                    return True
            except ValueError:
                continue
    return False


def caveat_of(issue: QualityIssue, *, with_spans: bool = False) -> str:
    """A warning as a dataset caveat: ``"check: message"``.

    ``with_spans`` adds the spans of synthetic opens (dates). Only bundled
    datasets, whose spans are documented, do: a caveat is shown everywhere,
    unfiltered, while the quality report hides locations inside the holdout.
    """
    text = f"{issue.check}: {issue.message}"
    if with_spans and issue.check == "synthetic_open" and issue.locations:
        spans = "; ".join(
            f"{loc.get('asset')} {_short_time(str(loc.get('timestamp')))}.."
            f"{_short_time(str(loc.get('end')))}"
            for loc in issue.locations
        )
        text += f" (spans: {spans})"
    return text


def merge_sealed(
    whole: Sequence[QualityIssue], research: Sequence[QualityIssue]
) -> list[QualityIssue]:
    """Issues of a whole dataset, located only on its research span (before the holdout).

    ``whole``: the checks of every row; ``research``: the checks of the rows
    before the sealed holdout. Counts and messages come from ``whole``,
    locations from ``research``; ``sealed_locations`` counts the occurrences
    beyond those of the research span (at least 0).
    """
    seen = {i.check: i for i in research}
    out = []
    for issue in whole:
        visible = seen.get(issue.check)
        located = visible.count if visible is not None else 0
        out.append(
            replace(
                issue,
                locations=list(visible.locations) if visible is not None else [],
                sealed_locations=max(0, issue.count - located),
            )
        )
    return out


def make_issue(
    check: str, count: int, message: str, locations: list[dict[str, Any]] | None = None
) -> QualityIssue:
    """Build an issue with the severity and repair registered for ``check``."""
    severity, repair = CHECKS[check]
    return QualityIssue(check, severity, int(count), message, locations or [], repair)


def _iso(ns: int) -> str | None:
    if ns == NAT:
        return None
    return pd.Timestamp(int(ns), tz="UTC").isoformat()


def _value(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        f = float(v)
        return None if np.isnan(f) else f
    return v


def locate(
    data: LongData, rows: np.ndarray, column: str | None = None, limit: int = MAX_LOCATIONS
) -> list[dict[str, Any]]:
    """Describe the first ``limit`` rows of ``rows`` (positions into ``data``) for a report.

    Rows are reported in file-line order.
    """
    rows = np.asarray(rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    if len(rows) > limit:
        rows = rows[np.argsort(data.lines[rows], kind="stable")[:limit]]
    else:
        rows = rows[np.argsort(data.lines[rows], kind="stable")]
    out = []
    for r in rows:
        loc: dict[str, Any] = {
            "line": int(data.lines[r]),
            "timestamp": _iso(int(data.timestamps[r])),
            "asset": data.assets[int(data.asset_codes[r])] if len(data.assets) else None,
        }
        if column is not None:
            loc["column"] = column
            if column in data.fields:
                loc["value"] = _value(data.fields[column][r])
        out.append(loc)
    return out


# --------------------------------------------------------------------- checks
def check_long(
    data: LongData,
    *,
    stale_min_run: int = 5,
    price_fields: Sequence[str] | None = None,
    calendar: TradingCalendar | None = None,
) -> list[QualityIssue]:
    """Run every row-level check on parsed rows (any order).

    Rows whose timestamp could not be parsed are excluded here; the parser
    reports them as ``unparseable_timestamp``.

    Parameters
    ----------
    data : LongData
    stale_min_run : int, default 5
        Minimum number of consecutive identical prices that counts as stale.
    price_fields : sequence of str, optional
        Fields checked as prices; default: the known price fields present.
    calendar : TradingCalendar, optional
        The market's trading calendar: gaps are bars it expects, and rows
        where it has no bar are ``off_calendar_bars``; default: gaps are
        read from the dataset's own timestamps.
    """
    issues, _ = check_rows(
        data, stale_min_run=stale_min_run, price_fields=price_fields, calendar=calendar
    )
    return issues


def check_rows(
    data: LongData,
    *,
    stale_min_run: int = 5,
    price_fields: Sequence[str] | None = None,
    calendar: TradingCalendar | None = None,
    consume: bool = False,
) -> tuple[list[QualityIssue], LongData]:
    """:func:`check_long`, also returning the checked rows sorted by (asset, timestamp).

    The sorted rows are those with a parsed timestamp, in stable order (rows
    with equal keys keep their order in ``data``); ``data`` itself when it
    already is in that order. Sorting once here spares the importer a
    second sort before it stores the rows.

    With ``consume`` the caller gives up ``data``'s fields: they are removed
    from ``data.fields`` while the sorted copy is made (see
    :func:`~alphaloop.data.long.sort_rows`), so an import never holds the
    rows in file order and in sorted order at once.
    """
    issues: list[QualityIssue] = []
    valid = data.timestamps != NAT
    if not valid.all():
        parsed = data.take(valid)
        if consume:
            data.fields.clear()
        data = parsed
    if len(data) == 0:
        return issues, data
    prices = [f for f in (price_fields or sorted(PRICE_FIELDS)) if f in data.fields]
    s, backward = sort_rows(data, consume=consume)
    issues.extend(_check_unsorted(data, backward))
    dup = _same_key_as_previous(s)
    issues.extend(_check_duplicates(s, dup))
    issues.extend(_check_values(s, prices))
    issues.extend(_check_ohlc(s))
    issues.extend(_check_volume(s))
    issues.extend(_check_missing(s))
    price = price_checks.main_price_field(tuple(s.fields), prices)
    if price is not None:
        issues.extend(_check_stale(s, price, stale_min_run))
        issues.extend(_check_jumps(s, price))
        no_prices = price_checks.no_usable_prices(s, price)
        issues.extend(_from_price_check("no_usable_prices", no_prices))
        issues.extend(
            _from_price_check(
                "future_correlated_field",
                price_checks.future_correlated_fields(s, price, set(prices)),
            )
        )
    issues.extend(_from_price_check("synthetic_open", price_checks.synthetic_opens(s)))
    issues.extend(_check_gaps(s, dup, calendar))
    order = list(CHECKS)
    issues.sort(key=lambda i: order.index(i.check))
    return issues, s


def sort_for_checks(data: LongData) -> tuple[LongData, list[QualityIssue]]:
    """The rows sorted as :func:`check_rows` sorts them, and their ``unsorted_rows`` issue.

    For an importer that does not need the rows in file order: it keeps the
    sorted rows only (``check_rows`` of them gives the other issues) and
    drops ``data``, whose fields are consumed here (see
    :func:`~alphaloop.data.long.sort_rows`). Every timestamp must be parsed.
    """
    if not bool(np.all(data.timestamps != NAT)):
        raise ValueError("sort_for_checks needs parsed timestamps (no NAT)")
    s, backward = sort_rows(data, consume=True)
    return s, _check_unsorted(data, backward)


def _from_price_check(
    check: str, found: tuple[int, str, list[dict[str, Any]]] | None
) -> list[QualityIssue]:
    if found is None:
        return []
    count, message, locations = found
    return [make_issue(check, count, message, locations)]


def _check_unsorted(data: LongData, backward: np.ndarray) -> list[QualityIssue]:
    """``backward``: rows whose timestamp is earlier than the previous row of their asset."""
    n = len(backward)
    if not n:
        return []
    return [
        make_issue(
            "unsorted_rows",
            n,
            f"{n} row(s) have a timestamp earlier than the previous row of the same asset",
            locate(data, backward),
        )
    ]


def _same_key_as_previous(s: LongData) -> np.ndarray:
    """Mask over rows 1..n-1 of sorted data: same (asset, timestamp) as the row before."""
    return (s.asset_codes[1:] == s.asset_codes[:-1]) & (s.timestamps[1:] == s.timestamps[:-1])


def _check_duplicates(s: LongData, dup: np.ndarray) -> list[QualityIssue]:
    """``dup``: :func:`_same_key_as_previous` of ``s``."""
    if not dup.any():
        return []
    rows = np.flatnonzero(dup) + 1
    exact = np.ones(len(rows), dtype=bool)
    for values in s.fields.values():
        a, b = values[rows], values[rows - 1]
        exact &= (a == b) | (np.isnan(a) & np.isnan(b))
    if s.member is not None:
        exact &= s.member[rows] == s.member[rows - 1]
    issues = []
    if exact.any():
        n = int(exact.sum())
        issues.append(
            make_issue(
                "duplicate_rows",
                n,
                f"{n} row(s) repeat an earlier row exactly (same timestamp, asset and values)",
                locate(s, rows[exact]),
            )
        )
    if (~exact).any():
        n = int((~exact).sum())
        issues.append(
            make_issue(
                "duplicate_timestamps",
                n,
                f"{n} row(s) repeat the timestamp of an earlier row of the same asset "
                "with different values",
                locate(s, rows[~exact]),
            )
        )
    return issues


def _check_values(s: LongData, prices: list[str]) -> list[QualityIssue]:
    issues = []
    inf_rows, inf_cols, implausible, implausible_cols = [], [], [], []
    nonpos, nonpos_cols = [], []
    for name, values in s.fields.items():
        limit = MAX_PRICE if name in prices else (MAX_VOLUME if name == "volume" else None)
        big = None
        if limit is None:
            bad = np.isinf(values)
        else:
            # infinities are above the limit too, so without values above it there are none
            big = values > limit
            big |= values < -limit
            if big.any():
                bad = np.isinf(values)
                big &= ~bad
            else:
                bad = big
        if bad.any():
            inf_rows.append(np.flatnonzero(bad))
            inf_cols.append(name)
        if big is not None and big.any():
            implausible.append(np.flatnonzero(big))
            implausible_cols.append(name)
        if name in prices:
            neg = values <= 0
            if neg.any():
                nonpos.append(np.flatnonzero(neg))
                nonpos_cols.append(name)
    for check, rows_list, cols, text in (
        ("non_finite", inf_rows, inf_cols, "infinite value(s)"),
        (
            "implausible_value",
            implausible,
            implausible_cols,
            f"implausible value(s) (price above {MAX_PRICE:g} or volume above {MAX_VOLUME:g})",
        ),
        ("non_positive_price", nonpos, nonpos_cols, "price(s) at or below zero"),
    ):
        if rows_list:
            n = sum(len(r) for r in rows_list)
            locs = []
            for rows, col in zip(rows_list, cols, strict=True):
                locs.extend(locate(s, rows, col))
            issues.append(make_issue(check, n, f"{n} {text} in {cols}", locs[:MAX_LOCATIONS]))
    return issues


def _check_ohlc(s: LongData) -> list[QualityIssue]:
    f = s.fields
    issues = []
    if "high" in f and "low" in f:
        bad = f["high"] < f["low"]
        if bad.any():
            n = int(bad.sum())
            issues.append(
                make_issue(
                    "high_below_low",
                    n,
                    f"{n} row(s) have high below low",
                    locate(s, bad, "high"),
                )
            )
        outside = np.zeros(len(s), dtype=bool)
        cols = []
        locs: list[dict[str, Any]] = []
        for col in ("open", "close"):
            if col in f:
                out = (f[col] > f["high"]) | (f[col] < f["low"])
                if out.any():
                    cols.append(col)
                    locs.extend(locate(s, out, col))
                outside |= out
        if outside.any():
            n = int(outside.sum())
            issues.append(
                make_issue(
                    "open_close_outside_range",
                    n,
                    f"{n} row(s) have {' or '.join(cols)} outside [low, high]",
                    locs[:MAX_LOCATIONS],
                )
            )
    return issues


def _check_volume(s: LongData) -> list[QualityIssue]:
    if "volume" not in s.fields:
        return []
    v = s.fields["volume"]
    issues = []
    for check, mask, text in (
        ("negative_volume", v < 0, "negative volume(s)"),
        ("zero_volume", v == 0, "zero volume(s)"),
    ):
        if mask.any():
            n = int(mask.sum())
            issues.append(make_issue(check, n, f"{n} {text}", locate(s, mask, "volume")))
    return issues


def _check_missing(s: LongData) -> list[QualityIssue]:
    counts = {}
    locs: list[dict[str, Any]] = []
    for name, values in s.fields.items():
        miss = np.isnan(values)
        if miss.any():
            counts[name] = int(miss.sum())
            if len(locs) < MAX_LOCATIONS:
                locs.extend(locate(s, miss, name))
    if not counts:
        return []
    n = sum(counts.values())
    return [
        make_issue(
            "missing_values",
            n,
            f"{n} missing value(s), kept as NaN: {counts}",
            locs[:MAX_LOCATIONS],
        )
    ]


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start positions and lengths of runs of True in a boolean array."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = edges[::2], edges[1::2]
    return starts, ends - starts


def _check_stale(s: LongData, price: str, min_run: int) -> list[QualityIssue]:
    p = s.fields[price]
    same = (s.asset_codes[1:] == s.asset_codes[:-1]) & (p[1:] == p[:-1])
    starts, lengths = _runs(same)
    # a run of k equal steps spans k + 1 bars
    keep = lengths + 1 >= min_run
    if not keep.any():
        return []
    starts, lengths = starts[keep], lengths[keep]
    n = len(starts)
    longest = int(lengths.max()) + 1
    bars = int((lengths + 1).sum())
    locs = locate(s, starts, price)
    # a wide file's line holds one cell per asset: key locations by line and asset
    first_by_key = {(loc["line"], loc["asset"]): loc for loc in locs}
    for start, length in zip(starts, lengths, strict=True):
        loc = first_by_key.get((int(s.lines[start]), s.assets[int(s.asset_codes[start])]))
        if loc is not None:
            loc["bars"] = int(length) + 1
    return [
        make_issue(
            "stale_prices",
            n,
            f"{n} run(s) of {min_run}+ bars with an unchanged {price} ({bars} bars in all, "
            f"longest {longest})",
            locs,
        )
    ]


def _check_jumps(s: LongData, price: str) -> list[QualityIssue]:
    p = s.fields[price]
    codes = s.asset_codes
    # Only ratios far from 1 can be near a split ratio: find those (in blocks, to
    # spare a full-size array of ratios), then test them exactly.
    found, ratios = [], []
    for i in range(0, len(p) - 1, _BLOCK_ROWS):
        j = min(i + _BLOCK_ROWS, len(p) - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = p[i + 1 : j + 1] / p[i:j]
        near = (ratio > _JUMP_ABOVE) | (ratio < _JUMP_BELOW)
        near &= codes[i + 1 : j + 1] == codes[i:j]
        k = np.flatnonzero(near)
        found.append(k + i)
        ratios.append(ratio[k])
    candidates = np.concatenate(found) if found else np.zeros(0, dtype=np.intp)
    r_near = np.concatenate(ratios) if ratios else np.zeros(0)
    hit = np.zeros(len(candidates), dtype=bool)
    with np.errstate(all="ignore"):
        for r in SPLIT_RATIOS:
            for target in (r, 1.0 / r):
                hit |= np.abs(r_near / target - 1.0) < SPLIT_TOLERANCE
    if not hit.any():
        return []
    rows = candidates[hit] + 1
    n = len(rows)
    locs = locate(s, rows, price)
    for loc in locs:
        code = s.assets.index(loc["asset"])
        r = int(np.flatnonzero((s.lines == loc["line"]) & (s.asset_codes == code))[0])
        with np.errstate(all="ignore"):
            loc["ratio"] = round(float(p[r] / p[r - 1]), 4)
    return [
        make_issue(
            "split_like_jump",
            n,
            f"{n} bar-to-bar change(s) in {price} look like an unadjusted split "
            "(ratio near 2, 3, 4, 5, 10 or an inverse)",
            locs,
        )
    ]


def _check_gaps(
    s: LongData, dup: np.ndarray, trading: TradingCalendar | None = None
) -> list[QualityIssue]:
    """``dup``: :func:`_same_key_as_previous` of ``s``; ``trading``: the market's calendar."""
    calendar = s.calendar
    if len(calendar) < 3:
        return []
    if trading is not None:
        from alphaloop.data.panel import infer_frequency

        frequency = infer_frequency(pd.DatetimeIndex(calendar.view("datetime64[ns]")))
        if checkable_frequency(frequency):
            gaps, off = calendar_checks(s, dup, trading, frequency)
            return [
                *_from_price_check("calendar_gaps", gaps),
                *_from_price_check("off_calendar_bars", off),
            ]
    n_missing = 0
    locs: list[dict[str, Any]] = []
    # 1. assets missing calendar timestamps inside their own span
    bounds = np.flatnonzero(np.diff(s.asset_codes)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(s)]))
    first = np.searchsorted(calendar, s.timestamps[starts])
    last = np.searchsorted(calendar, s.timestamps[ends - 1])
    unique_rows = np.concatenate(([True], ~dup))
    observed = np.add.reduceat(unique_rows, starts, dtype=np.int64)
    missing_per_asset = (last - first + 1) - observed
    for k in np.flatnonzero(missing_per_asset > 0):
        n_missing += int(missing_per_asset[k])
        if len(locs) < MAX_LOCATIONS:
            span = calendar[first[k] : last[k] + 1]
            have = s.timestamps[starts[k] : ends[k]]
            absent = span[~np.isin(span, have)]
            if len(absent):
                locs.append(
                    {
                        "asset": s.assets[int(s.asset_codes[starts[k]])],
                        "timestamp": _iso(int(absent[0])),
                        "missing": int(missing_per_asset[k]),
                    }
                )
    # 2. long steps in the calendar itself
    steps = np.diff(calendar)
    median = float(np.median(steps))
    if median < 20 * 3600 * 1e9:  # intraday: only within a UTC day
        same_day = (calendar[1:] // DAY_NS) == (calendar[:-1] // DAY_NS)
        long_step = same_day & (steps > 3 * median)
    elif median <= 4 * DAY_NS:  # daily
        long_step = steps > 5 * DAY_NS
    else:
        long_step = steps > 1.5 * median
    n_steps = int(long_step.sum())
    for i in np.flatnonzero(long_step)[: max(0, MAX_LOCATIONS - len(locs))]:
        locs.append(
            {
                "timestamp": _iso(int(calendar[i + 1])),
                "previous": _iso(int(calendar[i])),
                "days": round(float(steps[i]) / DAY_NS, 2),
            }
        )
    if not n_missing and not n_steps:
        return []
    parts = []
    if n_missing:
        parts.append(
            f"{n_missing} timestamp(s) of the calendar are missing for assets inside their own span"
        )
    if n_steps:
        parts.append(f"{n_steps} step(s) between calendar timestamps are unusually long")
    return [make_issue("calendar_gaps", n_missing + n_steps, "; ".join(parts), locs)]


# -------------------------------------------------------------------- repairs
def apply_repairs(
    data: LongData, issues: Sequence[QualityIssue], *, price_fields: Sequence[str] | None = None
) -> tuple[LongData, list[Repair]]:
    """Apply the documented repairs for the repairable errors in ``issues``.

    Returns the repaired rows, sorted by (asset, timestamp), and the list of
    repairs with their counts. Rows are only ever removed by the
    ``duplicate_rows`` repair, and each removal is counted.
    """
    checks = {i.check: i for i in issues if i.severity == "error" and i.repair}
    repairs: list[Repair] = []
    if "non_numeric" in checks:  # the parser already stored NaN for such text
        repairs.append(
            Repair("non_numeric", CHECKS["non_numeric"][1] or "", checks["non_numeric"].count)
        )
    s = data.sorted()
    if "unsorted_rows" in checks:
        repairs.append(
            Repair("unsorted_rows", CHECKS["unsorted_rows"][1] or "", checks["unsorted_rows"].count)
        )
    if "duplicate_rows" in checks:
        dup = np.concatenate(([False], _same_key_as_previous(s)))
        exact = dup.copy()
        idx = np.flatnonzero(dup)
        for values in s.fields.values():
            a, b = values[idx], values[idx - 1]
            exact[idx] &= (a == b) | (np.isnan(a) & np.isnan(b))
        if s.member is not None:
            exact[idx] &= s.member[idx] == s.member[idx - 1]
        s = s.take(~exact)
        action = CHECKS["duplicate_rows"][1] or ""
        repairs.append(Repair("duplicate_rows", action, int(exact.sum())))
    prices = [f for f in (price_fields or sorted(PRICE_FIELDS)) if f in s.fields]
    fields = dict(s.fields)
    copied: set[str] = set()  # fields are shared with ``data``: copy one before changing it

    def blank(check: str, masks: dict[str, np.ndarray]) -> None:
        n = 0
        for col, mask in masks.items():
            k = int(mask.sum())
            if not k:
                continue
            if col not in copied:
                fields[col] = fields[col].copy()
                copied.add(col)
            n += k
            fields[col][mask] = np.nan
        if n:
            repairs.append(Repair(check, CHECKS[check][1] or "", n))

    if "non_finite" in checks:
        blank("non_finite", {k: np.isinf(v) for k, v in fields.items()})
    if "implausible_value" in checks:
        masks = {p: np.abs(fields[p]) > MAX_PRICE for p in prices}
        if "volume" in fields:
            masks["volume"] = np.abs(fields["volume"]) > MAX_VOLUME
        blank("implausible_value", masks)
    if "non_positive_price" in checks:
        blank("non_positive_price", {p: fields[p] <= 0 for p in prices})
    if "high_below_low" in checks and "high" in fields and "low" in fields:
        bad = fields["high"] < fields["low"]
        blank("high_below_low", {"high": bad, "low": bad.copy()})
    if "open_close_outside_range" in checks and "high" in fields and "low" in fields:
        hi, lo = fields["high"], fields["low"]
        blank(
            "open_close_outside_range",
            {c: (fields[c] > hi) | (fields[c] < lo) for c in ("open", "close") if c in fields},
        )
    if "negative_volume" in checks and "volume" in fields:
        blank("negative_volume", {"volume": fields["volume"] < 0})
    return s.with_fields(fields), repairs
