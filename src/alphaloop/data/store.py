"""Parquet files per dataset version, queried with DuckDB into a Panel.

Layout under the workspace's data directory::

    <name>/v<version>/rows.parquet      long rows sorted by (asset, time)
    <name>/v<version>/calendar.parquet  the version's timestamps
    <name>/v<version>/meta.json         assets, fields, frequency, content hash, market calendar

``rows.parquet`` holds ``timestamp`` (UTC), ``asset``, the integer positions
``t`` (into the calendar) and ``a`` (into the asset list), an optional
``member`` column and one float64 column per field. Anyone can query it with
DuckDB or pandas; alphaloop reads the integer positions so that loading is a
filtered scan plus one scatter per field. The columns are zstd-compressed;
``asset`` is dictionary-encoded, the integer columns delta-encoded and the
fields byte-stream-split (standard Parquet encodings, chosen because they
write and load fastest here).

A version directory is written under a temporary name and renamed into
place, so a crash or a refused import never leaves a partial version.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from alphaloop.data.long import LongData
from alphaloop.data.panel import Panel, as_utc, infer_frequency
from alphaloop.errors import DataReadError, PanelError

__all__ = ["ParquetStore", "StoredVersion"]

ROWS = "rows.parquet"
CALENDAR = "calendar.parquet"
META = "meta.json"
# integer columns step by small amounts (rows sorted by asset, then time): delta-encode
# them; float fields use BYTE_STREAM_SPLIT, which writes and loads faster than dictionary
# or plain encoding under zstd (5M rows: write 0.9 -> 0.4 s, load 0.21 -> 0.14 s)
_ENCODINGS = {c: "DELTA_BINARY_PACKED" for c in ("timestamp", "t", "a")}


@dataclass(frozen=True)
class StoredVersion:
    """What :meth:`ParquetStore.write` produced."""

    path: Path
    rows: int
    assets: tuple[str, ...]
    fields: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    n_times: int
    frequency: str
    content_hash: str


class ParquetStore:
    """Dataset versions as Parquet directories under ``root``.

    Parameters
    ----------
    root : Path
        The workspace's data directory; created on first write.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def version_dir(self, name: str, version: int) -> Path:
        return self.root / name / f"v{version}"

    # ------------------------------------------------------------------ write
    def write(
        self, name: str, version: int, data: LongData, extra_meta: dict[str, Any] | None = None
    ) -> StoredVersion:
        """Write sorted, unique rows as a new version; never overwrites.

        ``extra_meta`` adds JSON-ready keys to ``meta.json`` (e.g. the
        dataset's market calendar); it cannot replace the keys written here.

        ``data`` must have parsed timestamps and unique (asset, timestamp)
        pairs; the ingest layer guarantees both. Rows already in (asset,
        timestamp) order (as :func:`~alphaloop.data.quality.check_rows`
        returns them) are written as they are, without another sort.
        """
        final = self.version_dir(name, version)
        if final.exists():
            raise DataReadError(f"dataset {name!r} v{version} already exists at {final}")
        s = data.sorted()
        _check_panel_shape(s)
        calendar = s.calendar
        t_idx = s.time_positions  # int32
        index = pd.DatetimeIndex(calendar.view("datetime64[ns]")).tz_localize("UTC")
        frequency = infer_frequency(index)
        ts_type = pa.timestamp("ns", tz="UTC")
        columns: dict[str, pa.Array] = {
            "timestamp": pa.array(s.timestamps, type=pa.int64()).view(ts_type),
            "asset": pa.DictionaryArray.from_arrays(
                pa.array(s.asset_codes, type=pa.int32()), pa.array(list(s.assets), pa.string())
            ),
            "t": pa.array(t_idx),
            "a": pa.array(s.asset_codes.astype(np.int32, copy=False)),
        }
        if s.member is not None:
            columns["member"] = pa.array(s.member)
        for fname, values in s.fields.items():
            columns[fname] = pa.array(values, type=pa.float64(), from_pandas=False)
        table = pa.table(columns)
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            # Arrow writes the rows on one core while the hash is computed on another
            with ThreadPoolExecutor(max_workers=1) as pool:
                hashing = pool.submit(s.content_hash)
                pq.write_table(
                    table,
                    tmp / ROWS,
                    compression="zstd",
                    row_group_size=1 << 20,
                    use_dictionary=["asset"],
                    column_encoding=_ENCODINGS | {f: "BYTE_STREAM_SPLIT" for f in s.fields},
                )
                del table, columns
                pq.write_table(
                    pa.table({"timestamp": pa.array(calendar, type=pa.int64()).view(ts_type)}),
                    tmp / CALENDAR,
                )
                digest = hashing.result()
            meta = {
                "format": 1,
                "assets": list(s.assets),
                "fields": list(s.fields),
                "rows": len(s),
                "n_times": len(calendar),
                "start": index[0].isoformat(),
                "end": index[-1].isoformat(),
                "frequency": frequency,
                "content_hash": digest,
                "has_member": s.member is not None,
            }
            meta = {**(extra_meta or {}), **meta}
            (tmp / META).write_text(json.dumps(meta, indent=1))
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return StoredVersion(
            final,
            len(s),
            s.assets,
            tuple(s.fields),
            index[0],
            index[-1],
            len(calendar),
            frequency,
            digest,
        )

    def delete(self, name: str, version: int) -> None:
        """Remove a version directory (used to undo a write whose record failed)."""
        shutil.rmtree(self.version_dir(name, version), ignore_errors=True)

    # ------------------------------------------------------------------- read
    def meta(self, name: str, version: int) -> dict[str, Any]:
        path = self.version_dir(name, version) / META
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise DataReadError(
                f"dataset {name!r} v{version}: files missing at {path.parent}",
                hint="the workspace's data directory was changed by hand; re-import the dataset",
            ) from None

    def load(
        self,
        name: str,
        version: int,
        *,
        start: Any = None,
        end: Any = None,
        assets: Sequence[str] | None = None,
        fields: Sequence[str] | None = None,
    ) -> Panel:
        """Query one version into a Panel.

        ``start`` and ``end`` are inclusive; naive values are UTC. Assets and
        fields keep the order asked for (default: stored order).
        """
        vdir = self.version_dir(name, version)
        meta = self.meta(name, version)
        all_assets: list[str] = meta["assets"]
        all_fields: list[str] = meta["fields"]
        field_list = list(all_fields if fields is None else fields)
        for f in field_list:
            if f not in all_fields:
                raise PanelError(
                    f"dataset {name!r} has no field {f!r}", hint=f"fields: {all_fields}"
                )
        asset_list = list(all_assets if assets is None else assets)
        pos = {a: i for i, a in enumerate(all_assets)}
        for a in asset_list:
            if a not in pos:
                raise PanelError(
                    f"dataset {name!r} has no asset {a!r}",
                    hint=f"{len(all_assets)} assets, e.g. {all_assets[:5]}",
                )
        calendar = self.calendar(name, version)
        t0 = 0 if start is None else int(np.searchsorted(calendar, as_utc(start).value, "left"))
        t1 = (
            len(calendar)
            if end is None
            else int(np.searchsorted(calendar, as_utc(end).value, "right"))
        )
        t1 = max(t0, t1)
        selected_codes = np.array([pos[a] for a in asset_list], dtype=np.int32)
        cols = ["t", "a", *([] if not meta.get("has_member") else ["member"])]
        cols += [f'"{f}"' for f in field_list]
        where = ["t >= ? AND t < ?"]
        params: list[Any] = [t0, t1]
        if assets is not None:
            where.append(f"a IN ({','.join(str(int(c)) for c in selected_codes)})")
        sql = f"SELECT {', '.join(cols)} FROM read_parquet(?) WHERE {' AND '.join(where)}"
        with duckdb.connect() as con:
            con.execute("SET threads TO 2")
            result = con.sql(sql, params=[str(vdir / ROWS), *params]).to_arrow_table()
        remap = np.full(len(all_assets), -1, dtype=np.int64)
        remap[selected_codes] = np.arange(len(selected_codes))
        t_local = result.column("t").to_numpy().astype(np.int64) - t0
        a_local = remap[result.column("a").to_numpy()]
        shape = (t1 - t0, len(asset_list))
        out_fields = {}
        for f in field_list:
            arr = np.full(shape, np.nan)
            arr[t_local, a_local] = result.column(f).to_numpy(zero_copy_only=False)
            out_fields[f] = arr
        membership = np.zeros(shape, dtype=bool)
        if meta.get("has_member"):
            membership[t_local, a_local] = result.column("member").to_numpy(zero_copy_only=False)
        else:
            membership[t_local, a_local] = True
        index = pd.DatetimeIndex(calendar[t0:t1].view("datetime64[ns]")).tz_localize("UTC")
        return Panel(index, asset_list, out_fields, membership, frequency=meta["frequency"])

    def calendar(self, name: str, version: int) -> np.ndarray:
        """The version's timestamps as int64 nanoseconds since the epoch (UTC)."""
        path = self.version_dir(name, version) / CALENDAR
        return pq.read_table(path).column(0).to_numpy().view(np.int64)

    def preview(self, name: str, version: int, limit: int = 10, before: Any = None) -> pd.DataFrame:
        """The last ``limit`` rows of the version in long format (all before ``before``)."""
        vdir = self.version_dir(name, version)
        meta = self.meta(name, version)
        cols = ", ".join(["timestamp", "asset", *[f'"{f}"' for f in meta["fields"]]])
        where = "" if before is None else "WHERE epoch_ns(timestamp) < ?"
        params: list[Any] = [str(vdir / ROWS)]
        if before is not None:
            params.append(int(as_utc(before).value))
        with duckdb.connect() as con:
            frame = con.sql(
                f"SELECT {cols} FROM read_parquet(?) {where} "
                "ORDER BY timestamp DESC, asset LIMIT ?",
                params=[*params, int(limit)],
            ).df()
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame


def _check_panel_shape(s: LongData) -> None:
    """Refuse rows that cannot form a Panel, as :class:`Panel` itself would."""
    if not s.fields:
        raise PanelError("a Panel needs at least one field")
    if len(set(s.assets)) != len(s.assets):
        dupes = sorted({a for a in s.assets if s.assets.count(a) > 1})
        raise PanelError(f"Panel assets must be unique; repeated: {dupes[:5]}")
