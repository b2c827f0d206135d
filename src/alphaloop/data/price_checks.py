"""Checks of what prices can be used for: are there any, are opens real, do fields peek ahead.

Three checks that :func:`alphaloop.data.quality.check_rows` runs on rows
sorted by (asset, timestamp), and one function for a loaded Panel:

``no_usable_prices`` (error, no repair)
    The main price field (``close``, else ``adj_close``, ``price``, ``vwap``,
    else the first price field) has no finite value in ``(0, 1e10]`` at all,
    or not for some assets (an asset listed without rows counts too). Such a
    dataset or asset cannot be traded or evaluated; repairs cannot create
    prices, so the import is refused with the assets named.

``synthetic_open`` (warning)
    On many bars the open equals the previous bar's close (relative
    difference at most :data:`OPEN_TOLERANCE`): the source filled the open in
    from the previous close. A fill "at the next open" on such a bar is in
    fact a fill at the signal bar's close, the optimistic same-bar fill. An
    asset is flagged where a window of :data:`OPEN_WINDOW` consecutive bars
    (the whole asset when it has fewer, but at least :data:`OPEN_MIN_BARS`)
    has at least :data:`OPEN_MIN_VALID` bars with both values and such opens
    on at least :data:`OPEN_MIN_SHARE` of them; the bars reported are those
    opens inside such windows, and the span runs from the first to the last
    of them. :func:`synthetic_open_mask` marks the same bars on a Panel.

``future_correlated_field`` (warning)
    A field whose value at bar t is strongly rank-correlated with the next
    bar's close-to-close return ``close[t+1] / close[t] - 1``, i.e. it looks
    like it holds information from after t (a forward return column, a label
    saved with the features). Spearman's rho is computed per asset and pooled
    (within-asset centred ranks of all assets together) for every field but
    the price levels (open, high, low, close, ...); the field is flagged
    when ``|rho| >`` :data:`FUTURE_RHO` on at least :data:`FUTURE_MIN_PAIRS`
    pairs, pooled or for any single asset. By chance alone ``|rho| > 0.5``
    on 100 pairs has a probability below 1e-6. Datasets with more than
    :data:`FUTURE_MAX_PAIRS` pairs are thinned to every k-th bar first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.long import LongData

__all__ = [
    "FUTURE_MIN_PAIRS",
    "FUTURE_RHO",
    "OPEN_MIN_BARS",
    "OPEN_MIN_SHARE",
    "OPEN_MIN_VALID",
    "OPEN_TOLERANCE",
    "OPEN_WINDOW",
    "main_price_field",
    "synthetic_open_mask",
]

MAX_PRICE = 1e10
#: |open / previous close - 1| at or below this counts as "open equals previous close"
OPEN_TOLERANCE = 1e-6
#: bars per window of the synthetic-open test (about a quarter of daily bars)
OPEN_WINDOW = 63
#: share of a window's bars whose open equals the previous close that flags it
OPEN_MIN_SHARE = 0.5
#: fewest bars an asset needs before its opens are judged
OPEN_MIN_BARS = 20
#: fewest bars with both an open and a previous close that a window needs to count
OPEN_MIN_VALID = 10
#: |Spearman rho| above which a field looks like it holds the next bar's return
FUTURE_RHO = 0.5
#: fewest (field, next return) pairs for a rho to count
FUTURE_MIN_PAIRS = 100
#: pairs used at most: every k-th bar of larger datasets
FUTURE_MAX_PAIRS = 250_000
_PRICE_ORDER = ("close", "adj_close", "price", "vwap")
_BLOCK_ROWS = 1 << 18  # rows per block where a full-size temporary is avoided


def main_price_field(fields: list[str] | tuple[str, ...], prices: list[str]) -> str | None:
    """The field the price checks use: close, else adj_close, price, vwap, else the first price."""
    present = [p for p in prices if p in fields]
    main = next((p for p in _PRICE_ORDER if p in present), None)
    return main if main is not None else (present[0] if present else None)


def _segments(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) row of each asset's block in rows sorted by asset."""
    bounds = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(codes)]))
    return starts, ends


# ------------------------------------------------------------ usable prices
def no_usable_prices(s: LongData, price: str) -> tuple[int, str, list[dict[str, Any]]] | None:
    """Assets of sorted rows ``s`` without one usable ``price``: (count, message, locations)."""
    p = s.fields[price]
    usable = p > 0  # False for NaN
    usable &= p <= MAX_PRICE  # False for infinity
    n_assets = len(s.assets)
    has = np.zeros(n_assets, dtype=bool)
    if len(s):
        starts, _ = _segments(s.asset_codes)
        has[s.asset_codes[starts]] = np.logical_or.reduceat(usable, starts)
    bad = np.flatnonzero(~has)
    if not len(bad):
        return None
    names = [s.assets[int(k)] for k in bad]
    rows = np.bincount(s.asset_codes, minlength=n_assets) if len(s) else np.zeros(n_assets)
    if len(bad) == n_assets:
        message = (
            f"no usable {price} at all: every {price} is missing, not positive or implausible "
            f"({len(s)} row(s)); nothing can be priced"
        )
    else:
        shown = ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")
        message = (
            f"{len(bad)} of {n_assets} asset(s) have no usable {price} "
            f"(missing, not positive or implausible everywhere): {shown}"
        )
    locations = [
        {"asset": name, "column": price, "rows": int(rows[k])}
        for name, k in zip(names[:5], bad[:5], strict=True)
    ]
    return len(bad), message, locations


# ----------------------------------------------------------- synthetic opens
def _equal_to_previous_close(
    open_: np.ndarray, close: np.ndarray, same_asset: np.ndarray
) -> np.ndarray:
    """Per bar i (i >= 1): open[i] equals close[i-1] of the same asset (missing: False).

    Computed in blocks that reuse two buffers: no full-size temporaries.
    """
    n = len(open_)
    equal = np.zeros(n, dtype=bool)
    size = min(_BLOCK_ROWS, max(n - 1, 0))
    gap, tolerance = np.empty(size), np.empty(size)
    for i in range(1, n, _BLOCK_ROWS):
        j = min(i + _BLOCK_ROWS, n)
        g, t = gap[: j - i], tolerance[: j - i]
        np.subtract(open_[i:j], close[i - 1 : j - 1], out=g)
        np.abs(g, out=g)
        np.abs(close[i - 1 : j - 1], out=t)
        t *= OPEN_TOLERANCE
        np.less_equal(g, t, out=equal[i:j])  # False where either is NaN
    equal[1:] &= same_asset
    return equal


def _both_known(open_: np.ndarray, close: np.ndarray, same_asset: np.ndarray) -> np.ndarray:
    """Per bar i (i >= 1): open[i] and close[i-1] of the same asset are both present."""
    valid = np.zeros(len(open_), dtype=bool)
    np.isfinite(close[:-1], out=valid[1:])
    valid[1:] &= np.isfinite(open_[1:])
    valid[1:] &= same_asset
    return valid


def _flagged_bars(
    equal: np.ndarray, valid: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Bars inside a window of :data:`OPEN_WINDOW` bars (per block) with many synthetic opens.

    ``equal`` and ``valid`` are per-row flags over blocks ``[starts[k], ends[k])``.
    The window ending at bar i covers ``[i - width + 1, i]`` (``width`` the
    window, or the whole block when it is shorter); it is flagged when it
    lies inside its block, the block has :data:`OPEN_MIN_BARS` bars, and
    enough of its valid bars have equal opens. Computed over
    :data:`_BLOCK_ROWS` windows at a time (each chunk looks back one window):
    the temporaries are of one chunk, never of every row.
    """
    n = len(equal)
    out = np.zeros(n, dtype=bool)
    lengths = ends - starts
    for a in range(0, n, _BLOCK_ROWS):
        b = min(a + _BLOCK_ROWS, n)
        c = max(a - (OPEN_WINDOW - 1), 0)  # the first row a window ending in [a, b) can reach
        i = np.arange(a, b)
        block = np.searchsorted(starts, i, side="right") - 1
        block_start, block_len = starts[block], lengths[block]
        lo = i - np.minimum(OPEN_WINDOW, block_len) + 1
        full = (lo >= block_start) & (block_len >= OPEN_MIN_BARS)
        lo_c = np.maximum(lo, c) - c  # positions in the chunk [c, b); exact where ``full``
        ce = np.concatenate(([0], np.cumsum(equal[c:b])))
        cv = np.concatenate(([0], np.cumsum(valid[c:b])))
        n_equal = ce[i + 1 - c] - ce[lo_c]
        n_valid = cv[i + 1 - c] - cv[lo_c]
        hot = full & (n_valid >= OPEN_MIN_VALID) & (n_equal >= OPEN_MIN_SHARE * n_valid)
        ends_hot = np.flatnonzero(hot)
        if not len(ends_hot):
            continue
        m = b - c
        cover = np.bincount(lo_c[ends_hot], minlength=m + 1) - np.bincount(
            ends_hot + (a - c) + 1, minlength=m + 1
        )
        out[c:b] |= np.cumsum(cover[:-1]) > 0
    return out


def _cover(
    equal: np.ndarray, open_: np.ndarray, close: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_flagged_bars` over the blocks of rows sorted by asset ``codes``; and ``valid``.

    Only assets with enough equal opens to fill one window are examined
    (most data has none, and then this costs one pass); ``valid`` (open and
    previous close known) is computed for those rows only.
    """
    cover = np.zeros(len(equal), dtype=bool)
    valid = np.zeros(len(equal), dtype=bool)
    need = int(np.ceil(OPEN_MIN_VALID * OPEN_MIN_SHARE))
    candidates = np.bincount(codes[equal], minlength=int(codes.max()) + 1) >= need
    if not candidates.any():
        return cover, valid
    if candidates[codes.min() :].all():  # every asset (the usual case): no copies of the rows
        valid = _both_known(open_, close, codes[1:] == codes[:-1])
        starts, ends = _segments(codes)
        return _flagged_bars(equal, valid, starts, ends), valid
    rows = candidates[codes]
    sub = codes[rows]
    sub_valid = _both_known(open_[rows], close[rows], sub[1:] == sub[:-1])
    valid[rows] = sub_valid
    starts, ends = _segments(sub)
    cover[rows] = _flagged_bars(equal[rows], sub_valid, starts, ends)
    return cover, valid


def _synthetic(s: LongData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of sorted ``s``: (synthetic open, inside a flagged window, open and close known)."""
    codes = s.asset_codes
    none = np.zeros(len(s), dtype=bool)
    if len(s) < 2 or "open" not in s.fields or "close" not in s.fields:
        return none, none, none
    open_, close = s.fields["open"], s.fields["close"]
    equal = _equal_to_previous_close(open_, close, codes[1:] == codes[:-1])
    cover, valid = _cover(equal, open_, close, codes)
    return equal & cover, cover, valid


def synthetic_open_rows(s: LongData) -> np.ndarray:
    """Rows of sorted ``s`` whose open equals the previous close inside a flagged span."""
    return _synthetic(s)[0]


def synthetic_opens(s: LongData) -> tuple[int, str, list[dict[str, Any]]] | None:
    """The synthetic-open warning of sorted rows ``s``: (bars, message, spans).

    A span is a run of consecutive bars of one asset covered by flagged
    windows, from its first to its last synthetic open; each location gives
    those two bars, the synthetic opens in between (``bars``) and their share
    of the bars in between with both values (``share``).
    """
    suspect, cover, valid = _synthetic(s)
    if not suspect.any():
        return None
    codes, ts = s.asset_codes, s.timestamps
    # runs of covered bars, cut where the asset changes
    same = codes[1:] == codes[:-1]
    starts = np.flatnonzero(cover & ~np.concatenate(([False], cover[:-1] & same)))
    ends = np.flatnonzero(cover & ~np.concatenate((cover[1:] & same, [False])))
    cs = np.concatenate(([0], np.cumsum(suspect)))
    keep = (cs[ends + 1] - cs[starts]) > 0
    starts, ends = starts[keep], ends[keep]
    # each span runs from its first to its last synthetic open
    hits = np.flatnonzero(suspect)
    first = hits[np.searchsorted(hits, starts)]
    last = hits[np.searchsorted(hits, ends, side="right") - 1]
    cv = np.concatenate(([0], np.cumsum(valid)))
    bars = cs[last + 1] - cs[first]
    known = cv[last + 1] - cv[first]
    spans = [
        {
            "asset": s.assets[int(codes[a])],
            "timestamp": _iso(int(ts[a])),
            "end": _iso(int(ts[b])),
            "bars": int(k),
            "share": round(int(k) / max(int(m), 1), 3),
        }
        for a, b, k, m in zip(first[:5], last[:5], bars[:5], known[:5], strict=True)
    ]
    n_spans = len(first)
    n = int(suspect.sum())
    n_assets = len(np.unique(codes[suspect]))
    # no dates in the message: locations carry them, and they are hidden inside a holdout
    message = (
        f"{n} bar(s) of {n_assets} asset(s) open exactly at the previous close, in {n_spans} "
        f"span(s) where at least {OPEN_MIN_SHARE:.0%} of bars do (synthetic opens; the spans "
        "are the report's locations): a fill at the next open there is a fill at the signal "
        "bar's close"
    )
    return n, message, spans[:5]


def synthetic_open_mask(panel: Any) -> np.ndarray:
    """Boolean (time, asset) mask of a Panel's bars whose open looks synthetic.

    True at bar t of asset j when ``open[t, j]`` equals ``close[t-1, j]``
    (relative difference at most :data:`OPEN_TOLERANCE`) and t lies in a span
    the ``synthetic_open`` quality check flags (see the module docstring). The
    first bar of the panel is never flagged (its previous close is not in the
    panel), nor any bar of a panel without both ``open`` and ``close``.

    A backtest that fills at the next open can count its fills on these bars:
    they are effectively fills at the previous bar's close.
    """
    shape = panel.shape
    if "open" not in panel or "close" not in panel or shape[0] < 2:
        return np.zeros(shape, dtype=bool)
    n_t, n_a = shape
    # column by column as one long array: blocks of n_t rows per asset
    open_ = np.asarray(panel["open"], dtype=np.float64).T.reshape(-1)
    close = np.asarray(panel["close"], dtype=np.float64).T.reshape(-1)
    codes = np.repeat(np.arange(n_a), n_t)
    same = codes[1:] == codes[:-1]
    equal = _equal_to_previous_close(open_, close, same)
    flagged = equal & _cover(equal, open_, close, codes)[0]
    return flagged.reshape(n_a, n_t).T.copy()


# ---------------------------------------------------------- future returns
def _group_centred_ranks(values: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks within each asset, centred and scaled: ``(rank - (n+1)/2) / n``; and n.

    Ties get the average of the ranks they span (as :func:`scipy.stats.rankdata`).
    """
    n_rows = len(values)
    # order by (asset, value): values by a global rank, then one integer sort
    by_value = np.argsort(values)
    global_rank = np.empty(n_rows, dtype=np.int64)
    global_rank[by_value] = np.arange(n_rows)
    order = np.argsort(codes.astype(np.int64) * n_rows + global_rank)
    v, c = values[order], codes[order]
    new_group = np.ones(n_rows, dtype=bool)
    new_group[1:] = c[1:] != c[:-1]
    group_first = np.maximum.accumulate(np.where(new_group, np.arange(n_rows), 0))
    position = np.arange(n_rows) - group_first  # 0-based rank inside the asset
    new_run = new_group.copy()
    new_run[1:] |= v[1:] != v[:-1]
    run_first = np.flatnonzero(new_run)
    run_len = np.diff(np.append(run_first, n_rows))
    run_of = np.cumsum(new_run) - 1
    ranks = np.empty(n_rows)
    ranks[order] = (position[run_first] + (run_len - 1) / 2.0 + 1.0)[run_of]
    counts = np.bincount(codes)
    n = counts[codes].astype(np.float64)
    return (ranks - (n + 1.0) / 2.0) / n, counts


def future_correlated_fields(
    s: LongData, price: str, skip: frozenset[str] | set[str] = frozenset()
) -> tuple[int, str, list[dict[str, Any]]] | None:
    """Fields of sorted rows ``s`` rank-correlated with the next bar's ``price`` return.

    ``price`` and the fields in ``skip`` (price levels, whose ranks say
    nothing about returns) are not tested.
    """
    skip = {price, *skip}
    p = s.fields[price]
    all_codes = s.asset_codes
    n = len(s)
    if n < FUTURE_MIN_PAIRS + 1:
        return None
    # a strong correlation shows on a sample: at most FUTURE_MAX_PAIRS bars, every k-th one
    step = max(1, -(-(n - 1) // FUTURE_MAX_PAIRS))
    rows = np.arange(0, n - 1, step)
    codes = all_codes[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        nxt = p[rows + 1] / p[rows] - 1.0
    base = np.isfinite(nxt) & (all_codes[rows + 1] == codes)
    found: list[dict[str, Any]] = []
    shared: tuple[np.ndarray, np.ndarray] | None = None  # return ranks on every base pair
    for name, all_values in s.fields.items():
        if name in skip:
            continue
        values = all_values[rows]
        ok = base & np.isfinite(values)
        if int(ok.sum()) < FUTURE_MIN_PAIRS:
            continue
        c = codes[ok]
        ux, counts = _group_centred_ranks(values[ok], c)
        if int(ok.sum()) == int(base.sum()):
            if shared is None:
                shared = _group_centred_ranks(nxt[base], c)
            ur = shared[0]
        else:
            ur, _ = _group_centred_ranks(nxt[ok], c)
        sxy = np.bincount(c, ux * ur, minlength=len(counts))
        sxx = np.bincount(c, ux * ux, minlength=len(counts))
        syy = np.bincount(c, ur * ur, minlength=len(counts))
        with np.errstate(divide="ignore", invalid="ignore"):
            per_asset = sxy / np.sqrt(sxx * syy)
            pooled = float(sxy.sum() / np.sqrt(sxx.sum() * syy.sum()))
        enough = (counts >= FUTURE_MIN_PAIRS) & np.isfinite(per_asset)
        strong = enough & (np.abs(per_asset) > FUTURE_RHO)
        pooled_strong = np.isfinite(pooled) and abs(pooled) > FUTURE_RHO
        if not (pooled_strong or strong.any()):
            continue
        loc: dict[str, Any] = {
            "column": name,
            "rho": round(pooled, 3) if np.isfinite(pooled) else None,
            "pairs": int(ok.sum()),
            "assets_flagged": int(strong.sum()),
        }
        if enough.any():  # the asset with the strongest correlation on enough pairs
            k = int(np.argmax(np.where(enough, np.abs(per_asset), -1.0)))
            loc["asset"] = s.assets[k]
            loc["asset_rho"] = round(float(per_asset[k]), 3)
        found.append(loc)
    if not found:
        return None
    parts = [
        f"{f['column']} (rho {f['rho']:+.2f} on {f['pairs']} bars)"
        if f["rho"] is not None
        else f"{f['column']} ({f['assets_flagged']} asset(s))"
        for f in found
    ]
    message = (
        f"{len(found)} field(s) are strongly rank-correlated with the next bar's {price} return "
        f"(|Spearman rho| > {FUTURE_RHO}): {', '.join(parts)}; they may hold information from "
        "the future (a forward return or a label): results using them would be too good to be true"
    )
    return len(found), message, found[:5]


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, tz="UTC").isoformat()
