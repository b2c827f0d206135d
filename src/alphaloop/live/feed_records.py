"""The bars a live feed delivered, in the database (``paper_bars``, migration 0011).

A session on a live feed records each bar before it acts on it, in one
transaction per batch; a restarted session rebuilds its panel from these
rows and asks the venue only for bars after the last one, so a restart
neither repeats nor skips a bar.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import insert, select

from alphaloop.live.feed_live import BARS_COLUMNS
from alphaloop.store import Database, PaperBarRow

__all__ = ["read_bars", "write_bars"]

_T = PaperBarRow.__table__


def write_bars(db: Database, session_id: int, bars: pd.DataFrame, index: pd.DatetimeIndex) -> None:
    """Record ``bars`` (long, :data:`BARS_COLUMNS`); ``index`` gives each time's row."""
    if bars.empty:
        return
    rows = index.get_indexer(pd.DatetimeIndex(bars["time"]))
    values = [
        {
            "session_id": session_id,
            "row": int(r),
            "asset": str(b.asset),
            "time": pd.Timestamp(b.time).to_pydatetime(),
            "open": float(b.open),
            "high": float(b.high),
            "low": float(b.low),
            "close": float(b.close),
            "volume": float(b.volume),
        }
        for r, b in zip(rows, bars.itertuples(index=False), strict=True)
    ]
    with db.engine.begin() as conn:
        conn.execute(insert(_T), values)


def read_bars(db: Database, session_id: int) -> pd.DataFrame:
    """Every recorded bar of the session (long, :data:`BARS_COLUMNS`), by row then asset."""
    with db.session() as s:
        rows = s.execute(
            select(*(_T.c[c] for c in BARS_COLUMNS))
            .where(_T.c.session_id == session_id)
            .order_by(_T.c.row, _T.c.asset)
        ).all()
    frame = pd.DataFrame(rows, columns=list(BARS_COLUMNS))
    if len(frame):
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame
