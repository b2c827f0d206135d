"""Split and dividend events of a fetched dataset, saved beside its version.

The table (one per dataset version, every symbol in it) has the columns

========  ==================================================================
column    meaning
========  ==================================================================
date      the ex-date: 00:00 UTC of the first trading date at the new terms
          (the exchange's date), tz-aware
symbol    the vendor symbol (the dataset's asset id)
kind      ``split`` or ``dividend``
value     split: ratio new/old shares (a 4-for-1 split is 4.0, a 1-for-10
          reverse split 0.1); dividend: cash per share on that date, in the
          quote currency, as the vendor reports it (split-adjusted by Yahoo)
========  ==================================================================

sorted by (symbol, date, kind). It is stored as ``events.parquet`` in the
version's directory (``data/<name>/v<N>/``), written atomically after the
version is recorded; a version without events has no file.
:func:`load_events` reads it back (an empty table when there is none).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from alphaloop.data.sources.base import EVENT_COLUMNS, empty_events
from alphaloop.errors import DataSourceError
from alphaloop.files import create_temp_file

__all__ = ["EVENTS_FILE", "check_events", "load_events", "save_events"]

EVENTS_FILE = "events.parquet"
KINDS = ("split", "dividend")


def check_events(events: pd.DataFrame) -> pd.DataFrame:
    """The table in canonical form (columns, dtypes, order); bad rows raise DataSourceError."""
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise DataSourceError(f"events table lacks column(s) {', '.join(missing)}")
    if not len(events):
        return empty_events()
    out = events[list(EVENT_COLUMNS)].copy()
    out["date"] = pd.to_datetime(out["date"], utc=True)
    out["symbol"] = out["symbol"].astype(str)
    out["kind"] = out["kind"].astype(str)
    out["value"] = out["value"].astype("float64")
    bad_kind = sorted(set(out["kind"]) - set(KINDS))
    if bad_kind:
        raise DataSourceError(f"unknown event kind(s) {bad_kind}", hint="split or dividend")
    values = out["value"].to_numpy()
    bad = ~np.isfinite(values) | ((out["kind"] == "split").to_numpy() & (values <= 0))
    bad |= (out["kind"] == "dividend").to_numpy() & (values < 0)
    if bad.any():
        row = out[bad].iloc[0]
        raise DataSourceError(
            f"event {row['kind']} of {row['symbol']} on {row['date']:%Y-%m-%d} has value "
            f"{row['value']}: splits need a ratio above 0, dividends a cash amount of 0 or more"
        )
    out = out.drop_duplicates(["symbol", "date", "kind"], keep="last")
    return out.sort_values(["symbol", "date", "kind"], kind="stable").reset_index(drop=True)


def save_events(version_dir: Path, events: pd.DataFrame) -> Path | None:
    """Write the events of a version into its directory; None (no file) when there are none."""
    table = check_events(events)
    if not len(table):
        return None
    path = Path(version_dir) / EVENTS_FILE
    fd, tmp = create_temp_file(path)
    os.close(fd)
    try:
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_events(version_dir: Path) -> pd.DataFrame:
    """The events saved with a version (an empty table when it has none)."""
    path = Path(version_dir) / EVENTS_FILE
    if not path.exists():
        return empty_events()
    return check_events(pd.read_parquet(path))
