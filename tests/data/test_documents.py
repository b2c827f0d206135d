"""The document store: file formats, the quality rules, all-or-nothing imports, reads."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alphaloop.app import Workspace
from alphaloop.data import DocumentImport, DocumentStore
from alphaloop.data import documents as documents_module
from alphaloop.data.documents import document_id
from alphaloop.errors import ConfigError, DocumentError
from alphaloop.store import Database

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DocumentStore]:
    db = Database(f"sqlite:///{tmp_path / 'docs.db'}")
    yield DocumentStore(db)
    db.dispose()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


NEWS = (
    "asset,published_at,text,source,kind\n"
    'AAA,2024-01-02T14:30:00Z,"Profits rose, strongly\nand again",wire,news\n'
    "BBB,2024-01-02T09:00:00-05:00,Guidance cut,wire,news\n"
    "AAA,2024-01-03T08:00:00+01:00,Annual report,,filing\n"
)


def test_csv_round_trip(store: DocumentStore, tmp_path: Path) -> None:
    result = store.import_file(write(tmp_path / "news.csv", NEWS), now=NOW, source="desk")
    assert isinstance(result, DocumentImport)
    assert (result.rows, result.imported, result.duplicates, result.already_stored) == (3, 3, 0, 0)
    assert result.assets == 2
    assert result.first == datetime(2024, 1, 2, 14, 0, tzinfo=UTC)
    assert result.last == datetime(2024, 1, 3, 7, 0, tzinfo=UTC)
    frame = store.load()
    assert list(frame.columns) == ["doc_id", "asset", "published_at", "source", "kind", "text"]
    assert str(frame["published_at"].dtype) == "datetime64[ns, UTC]"
    # sorted by publication time; offsets read at their offset
    assert frame["published_at"].tolist() == [
        pd.Timestamp("2024-01-02 14:00", tz="UTC"),
        pd.Timestamp("2024-01-02 14:30", tz="UTC"),
        pd.Timestamp("2024-01-03 07:00", tz="UTC"),
    ]
    assert frame["asset"].tolist() == ["BBB", "AAA", "AAA"]
    assert frame["text"].iloc[1] == "Profits rose, strongly\nand again"
    # a cell left empty takes the default source; a given one is kept
    assert frame["source"].tolist() == ["wire", "wire", "desk"]
    assert frame["kind"].tolist() == ["news", "news", "filing"]
    expected = document_id("BBB", frame["published_at"].iloc[0], "wire", "news", "Guidance cut")
    assert frame["doc_id"].iloc[0] == expected


def test_filters_and_limit(store: DocumentStore, tmp_path: Path) -> None:
    store.import_file(write(tmp_path / "news.csv", NEWS), now=NOW)
    assert store.load(assets=["AAA"])["asset"].tolist() == ["AAA", "AAA"]
    assert store.load(kinds=["filing"])["text"].tolist() == ["Annual report"]
    assert len(store.load(sources=["wire"])) == 2
    # start and end are inclusive; naive bounds are UTC
    window = store.load(start="2024-01-02 14:30", end="2024-01-03 07:00")
    assert window["text"].tolist() == ["Profits rose, strongly\nand again", "Annual report"]
    assert store.load(end=pd.Timestamp("2024-01-02 09:00", tz="America/New_York"))[
        "asset"
    ].tolist() == ["BBB"]
    latest = store.load(limit=2)
    assert latest["published_at"].is_monotonic_increasing
    assert latest["text"].tolist() == ["Profits rose, strongly\nand again", "Annual report"]
    assert store.load(assets=["ZZZ"]).empty


def test_jsonl_and_parquet_read_the_same_documents(store: DocumentStore, tmp_path: Path) -> None:
    rows = [
        {"asset": "AAA", "published_at": "2024-01-02T14:30:00Z", "text": "Up", "extra": 1},
        {"asset": "BBB", "published_at": "2024-01-02T15:00:00Z", "text": "Down"},
    ]
    jsonl = tmp_path / "news.jsonl.gz"
    jsonl.write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode()))
    result = store.import_file(jsonl, now=NOW)
    assert result.imported == 2
    assert result.notes == ("columns not used: extra",)
    table = pa.table(
        {
            "Asset": ["AAA", "BBB"],
            "Timestamp": pa.array(
                [pd.Timestamp("2024-01-02 14:30", tz="UTC"), pd.Timestamp("2024-01-02 15:00")],
                pa.timestamp("us", tz="UTC"),
            ),
            "Text": ["Up", "Down"],
        }
    )
    pq.write_table(table, tmp_path / "news.parquet")
    again = store.import_file(tmp_path / "news.parquet", now=NOW)
    assert (again.imported, again.already_stored) == (0, 2)
    assert len(store.load()) == 2


def test_jsonl_epoch_times_are_utc(store: DocumentStore, tmp_path: Path) -> None:
    lines = [
        json.dumps({"asset": "AAA", "published_at": 1704205800, "text": "Up"}),
        json.dumps({"asset": "AAA", "published_at": 1704207600, "text": "Down"}),
    ]
    result = store.import_file(write(tmp_path / "n.jsonl", "\n".join(lines)), now=NOW)
    assert result.first == datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    assert result.warnings == ()


def test_csv_integer_times_are_epochs_or_dates(store: DocumentStore, tmp_path: Path) -> None:
    epochs = write(tmp_path / "e.csv", "asset,time,text\nAAA,1704205800,Up\nAAA,,None\n")
    with pytest.raises(DocumentError, match=r"no publication time in 1 row\(s\): line 3"):
        store.import_file(epochs, now=NOW)
    write(epochs, "asset,time,text\nAAA,1704205800,Up\nAAA,1704207600,Later\n")
    assert store.import_file(epochs, now=NOW).first == datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
    dates = write(tmp_path / "d.csv", "asset,time,text\nAAA,20240102,Report\n")
    with pytest.raises(DocumentError, match="without a UTC offset"):  # a date: a zone is needed
        store.import_file(dates, now=NOW)
    result = store.import_file(dates, timezone="UTC", now=NOW)
    assert result.first == datetime(2024, 1, 2, tzinfo=UTC)
    assert "midnight" in result.warnings[0]


def test_duplicates_are_kept_once_and_counted(store: DocumentStore, tmp_path: Path) -> None:
    text = NEWS + "BBB,2024-01-02T14:00:00Z,Guidance cut,wire,news\n"  # the same instant
    result = store.import_file(write(tmp_path / "news.csv", text), now=NOW)
    assert (result.rows, result.imported, result.duplicates) == (4, 3, 1)
    assert result.rejected == {"duplicate": 1}
    again = store.import_file(tmp_path / "news.csv", now=NOW)
    assert (again.imported, again.already_stored, again.duplicates) == (0, 3, 1)
    assert len(store.load()) == 3


def test_unparseable_and_missing_times_name_the_lines(store: DocumentStore, tmp_path: Path) -> None:
    text = (
        "asset,published_at,text\n"
        "AAA,2024-01-02T14:30:00Z,fine\n"
        'AAA,yesterday,"two\nlines"\n'
        "AAA,,no time\n"
        "AAA,2024-13-45T00:00:00Z,bad month\n"
    )
    with pytest.raises(DocumentError) as info:
        store.import_file(write(tmp_path / "n.csv", text), now=NOW)
    message = info.value.message
    assert "no publication time in 1 row(s): line 5" in message
    assert (
        "cannot be read as a date/time in 2 row(s): lines 3 'yesterday', 6 '2024-13-45" in message
    )
    assert store.load().empty


def test_naive_times_need_a_timezone(store: DocumentStore, tmp_path: Path) -> None:
    path = write(
        tmp_path / "n.csv",
        "asset,time,text\nAAA,2024-01-02 09:30,open\nAAA,2024-01-02T15:00:00Z,later\n",
    )
    with pytest.raises(DocumentError, match=r"without a UTC offset in 1 row\(s\): line 2"):
        store.import_file(path, now=NOW)
    with pytest.raises(ConfigError, match="unknown time zone"):
        store.import_file(path, timezone="Mars/Olympus", now=NOW)
    result = store.import_file(path, timezone="America/New_York", now=NOW)
    assert result.imported == 2
    assert store.load()["published_at"].tolist() == [
        pd.Timestamp("2024-01-02 14:30", tz="UTC"),  # 09:30 in New York
        pd.Timestamp("2024-01-02 15:00", tz="UTC"),  # its own offset, not the zone
    ]


def test_naive_parquet_timestamps_need_a_timezone(store: DocumentStore, tmp_path: Path) -> None:
    table = pa.table(
        {
            "asset": ["AAA"],
            "published_at": pa.array([pd.Timestamp("2024-01-02 09:30")], pa.timestamp("ns")),
            "text": ["open"],
        }
    )
    pq.write_table(table, tmp_path / "n.parquet")
    with pytest.raises(DocumentError, match=r"without a UTC offset in 1 row\(s\): row 1"):
        store.import_file(tmp_path / "n.parquet", now=NOW)
    store.import_file(tmp_path / "n.parquet", timezone="Europe/London", now=NOW)
    assert store.load()["published_at"].iloc[0] == pd.Timestamp("2024-01-02 09:30", tz="UTC")


def test_dates_without_a_time_of_day_are_a_warning(store: DocumentStore, tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "asset,published,text\nAAA,2024-01-02,report\n")
    result = store.import_file(path, timezone="UTC", now=NOW)
    assert len(result.warnings) == 1
    assert "midnight" in result.warnings[0]
    assert "line 2" in result.warnings[0]


def test_dates_read_either_way_are_a_warning(store: DocumentStore, tmp_path: Path) -> None:
    path = write(
        tmp_path / "n.csv",
        "\ufeffAsset;Published At;Text;URL\nA;01/02/2024 10:00;x;u\nA;03/04/2024 10:00;y;u\n",
    )
    result = store.import_file(path, timezone="UTC", now=NOW)
    assert result.first == datetime(2024, 1, 2, 10, tzinfo=UTC)  # month first
    assert result.notes == ("columns not used: URL",)
    (warning,) = result.warnings
    assert "read month first in 2 row(s): lines 2 '01/02/2024 10:00', 3" in warning


def test_unknown_assets_refused_or_skipped(store: DocumentStore, tmp_path: Path) -> None:
    path = write(tmp_path / "news.csv", NEWS + "ZZZ,2024-01-04T00:00:00Z,,wire,news\n")
    with pytest.raises(DocumentError) as info:
        store.import_file(path, assets={"AAA", "BBB"}, now=NOW, assets_name="dataset 'd'")
    assert "1 asset(s) not in dataset 'd': ZZZ (in 1 row(s): line 6)" in info.value.message
    assert "skip_unknown=True" in info.value.message
    # skipped rows are not checked further (that one has no text) and are counted
    result = store.import_file(path, assets=["AAA", "BBB"], skip_unknown=True, now=NOW)
    assert (result.imported, result.skipped_unknown, result.unknown_assets) == (3, 1, ("ZZZ",))
    assert result.rejected == {"unknown_asset": 1}
    assert set(store.load()["asset"]) == {"AAA", "BBB"}


def test_empty_text_missing_asset_and_future_times_refused(
    store: DocumentStore, tmp_path: Path
) -> None:
    text = (
        "asset,published_at,text\n"
        "AAA,2024-01-02T14:30:00Z,fine\n"
        "AAA,2024-01-02T14:31:00Z,   \n"
        ",2024-01-02T14:32:00Z,no asset\n"
        "AAA,2025-06-01T00:00:00Z,from the future\n"
    )
    with pytest.raises(DocumentError) as info:
        store.import_file(write(tmp_path / "n.csv", text), now=NOW)
    message = info.value.message
    assert "empty text in 1 row(s): line 3" in message
    assert "no asset in 1 row(s): line 4" in message
    assert "in the future (after 2025-01-01 00:00 UTC) in 1 row(s): line 5" in message
    assert store.load().empty
    long_kind = write(tmp_path / "k.csv", "asset,time,text\nAAA,2024-01-02T00:00:00Z,x\n")
    with pytest.raises(
        DocumentError, match=r"kind longer than 100 characters in 1 row\(s\): line 2"
    ):
        store.import_file(long_kind, kind="k" * 101, now=NOW)


def test_malformed_files(store: DocumentStore, tmp_path: Path) -> None:
    cases = {
        "missing.csv": None,
        "ragged.csv": "asset,published_at,text\nAAA,2024-01-02T00:00:00Z,a,b\n",
        "columns.csv": "symbol,date,body\nAAA,2024-01-02,x\n",
        "header.csv": "asset,published_at,text\n",
        "bad.jsonl": '{"asset": "A", "published_at": "2024-01-02T00:00:00Z", "text": "x"}\n[1]\n',
        "notjson.jsonl": "{nope\n",
        "two.csv": "asset,time,timestamp,text\nA,2024-01-02T00:00:00Z,2024-01-02T00:00:00Z,x\n",
        "news.xlsx": "x",
    }
    expected = {
        "missing.csv": "no such file",
        "ragged.csv": "line 2 has 4 values but the header has 3 columns",
        "columns.csv": "no 'published_at' and no 'text' column",
        "header.csv": "no data rows",
        "bad.jsonl": "line 2 holds a JSON list, expected an object",
        "notjson.jsonl": "line 1 is not valid JSON",
        "two.csv": "'time', 'timestamp' all name the published_at",
        "news.xlsx": "unknown file type",
    }
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            write(path, text)
        with pytest.raises(DocumentError) as info:
            store.import_file(path, now=NOW)
        assert expected[name] in info.value.message, name
    (tmp_path / "latin.csv").write_bytes(b"asset,published_at,text\nA,2024-01-02Z,caf\xe9\n")
    with pytest.raises(DocumentError, match="not UTF-8 text"):
        store.import_file(tmp_path / "latin.csv", now=NOW)


def test_a_failing_import_leaves_the_store_unchanged(
    store: DocumentStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.import_file(write(tmp_path / "first.csv", NEWS), now=NOW)
    before = store.load()
    lines = [f"CCC,2024-02-{d:02d}T00:00:00Z,note {d}" for d in range(1, 8)]
    path = write(tmp_path / "second.csv", "asset,published_at,text\n" + "\n".join(lines) + "\n")
    calls = []
    real = documents_module._insert_chunk

    def failing(session: object, records: list[dict[str, object]]) -> None:
        calls.append(len(records))
        if len(calls) == 2:  # the first chunk is in, the second fails
            raise RuntimeError("disk full")
        real(session, records)

    monkeypatch.setattr(documents_module, "_CHUNK", 3)
    monkeypatch.setattr(documents_module, "_insert_chunk", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        store.import_file(path, now=NOW)
    assert calls == [3, 3]
    pd.testing.assert_frame_equal(store.load(), before)
    monkeypatch.setattr(documents_module, "_insert_chunk", real)
    assert store.import_file(path, now=NOW).imported == 7
    assert store.summary()["documents"] == 10


def test_summary(store: DocumentStore, tmp_path: Path) -> None:
    assert store.summary() == {
        "documents": 0,
        "assets": 0,
        "first": None,
        "last": None,
        "sources": {},
        "kinds": {},
        "per_asset": {},
    }
    store.import_file(write(tmp_path / "news.csv", NEWS), now=NOW)
    summary = store.summary()
    assert summary["documents"] == 3
    assert summary["assets"] == 2
    assert summary["first"] == "2024-01-02T14:00:00+00:00"
    assert summary["last"] == "2024-01-03T07:00:00+00:00"
    assert summary["sources"] == {"": 1, "wire": 2}
    assert summary["kinds"] == {"filing": 1, "news": 2}
    assert summary["per_asset"]["AAA"] == {
        "documents": 2,
        "first": "2024-01-02T14:30:00+00:00",
        "last": "2024-01-03T07:00:00+00:00",
    }


def test_times_round_up_to_the_microsecond(store: DocumentStore, tmp_path: Path) -> None:
    path = write(
        tmp_path / "n.csv", "asset,published_at,text\nAAA,2024-01-02T14:30:00.0000001Z,x\n"
    )
    store.import_file(path, now=NOW)
    # never earlier than written: 100 ns past the second becomes 1 us past it
    assert store.load()["published_at"].iloc[0] == pd.Timestamp(
        "2024-01-02 14:30:00.000001", tz="UTC"
    )


def test_workspace_round_trip_on_each_backend(workspace: Workspace, tmp_path: Path) -> None:
    """SQLite and PostgreSQL (when a server answers) store and read the same documents."""
    result = workspace.documents.import_file(write(tmp_path / "news.csv", NEWS), now=NOW)
    assert result.imported == 3
    assert workspace.documents.import_file(tmp_path / "news.csv", now=NOW).already_stored == 3
    frame = workspace.documents.load(start="2024-01-02 14:30")
    assert frame["published_at"].tolist() == [
        pd.Timestamp("2024-01-02 14:30", tz="UTC"),
        pd.Timestamp("2024-01-03 07:00", tz="UTC"),
    ]
    assert frame["text"].iloc[0] == "Profits rose, strongly\nand again"
    assert workspace.documents.summary()["documents"] == 3


def test_messages_name_the_first_rows_and_count_the_rest(
    store: DocumentStore, tmp_path: Path
) -> None:
    rows = "".join(f"AAA,2024-01-{d:02d}T00:00:00Z,\n" for d in range(1, 8))
    with pytest.raises(DocumentError) as info:
        store.import_file(write(tmp_path / "n.csv", "asset,time,text\n" + rows), now=NOW)
    assert "empty text in 7 row(s): lines 2, 3, 4, 5, 6 and 2 more" in info.value.message
