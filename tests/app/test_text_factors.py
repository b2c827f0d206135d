"""Text factors in a workspace: definitions, documents, panel fields, Text() in expressions."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import load_strategy_data
from alphaloop.app.factors import evaluate_dataset
from alphaloop.app.text_factors import (
    add_text_factor,
    attach_text_fields,
    get_text_factor,
    list_text_factors,
    load_documents,
    remove_text_factor,
    text_factor_summary,
)
from alphaloop.backtest.spec import StrategySpec
from alphaloop.errors import ConfigError, ExpressionError, SpecError
from alphaloop.factors.text import Embedder, TextFactorSpec
from alphaloop.store import DocumentRow

ASSETS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
DAYS = pd.bdate_range("2024-01-02", periods=40, tz="UTC")
GOOD = "{} beats earnings estimates and raises its guidance"
BAD = "{} misses estimates and cuts its outlook; shares plunge"
TONE = "name: tone\nkind: sentiment\nlatency: 30min\nhalf_life: 2D\nmax_age: 10D\n"


def write_prices(path: Path) -> Path:
    rng = np.random.default_rng(11)
    rows = []
    for a in ASSETS:
        close = 100 * np.cumprod(1 + 0.01 * rng.standard_normal(len(DAYS)))
        for t, c in zip(DAYS, close, strict=True):
            rows.append((f"{t:%Y-%m-%d}", a, c, c * 1.01, c * 0.99, c, 1000))
    cols = ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
    pd.DataFrame(rows, columns=cols).round(4).to_csv(path, index=False)
    return path


def insert_documents(ws: Workspace, docs: list[tuple[str, str, str]]) -> None:
    """Rows (asset, published_at, text) straight into the documents table."""
    with ws.db.write_session() as s:
        for asset, when, text in docs:
            published = pd.Timestamp(when, tz="UTC").to_pydatetime()
            doc_id = hashlib.sha256(f"{asset}|{when}|{text}".encode()).hexdigest()
            s.add(
                DocumentRow(
                    doc_id=doc_id,
                    asset=asset,
                    published_at=published,
                    source="wire",
                    kind="news",
                    text=text,
                    import_file="test",
                )
            )


def corpus() -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(3)
    docs = []
    for i, day in enumerate(DAYS[:30]):
        for a in rng.choice(ASSETS, size=2, replace=False):
            text = (GOOD if rng.random() < 0.5 else BAD).format(a)
            docs.append((str(a), f"{day:%Y-%m-%d} {13 + i % 5}:00", text))
    return docs


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("text-factors")
    workspace = Workspace(root / "ws")
    workspace.data.import_file(write_prices(root / "prices.csv"), "news-stocks")
    insert_documents(workspace, corpus())
    (root / "tone.yaml").write_text(TONE)
    add_text_factor(workspace, root / "tone.yaml")
    yield workspace
    workspace.close()


def test_definitions_are_kept_listed_and_removed(ws: Workspace, tmp_path: Path) -> None:
    assert [s.name for s in list_text_factors(ws)] == ["tone"]
    assert get_text_factor(ws, "tone").latency == "30min"
    (tmp_path / "tone.yaml").write_text(TONE)
    with pytest.raises(ConfigError, match="text factor 'tone' exists"):
        add_text_factor(ws, tmp_path / "tone.yaml")
    extra = TextFactorSpec(name="buyback", kind="similarity", references=("share buyback",))
    add_text_factor(ws, extra)
    assert [s.name for s in list_text_factors(ws)] == ["buyback", "tone"]
    remove_text_factor(ws, "buyback")
    with pytest.raises(ConfigError, match="no text factor 'buyback'") as info:
        get_text_factor(ws, "buyback")
    assert "defined: tone" in str(info.value)
    (tmp_path / "bad.yaml").write_text("name: bad\nkind: similarity\n")
    with pytest.raises(SpecError, match="needs references"):
        add_text_factor(ws, tmp_path / "bad.yaml")


def test_attached_values_are_point_in_time(ws: Workspace, embedder: Embedder) -> None:
    panel = ws.data.load("news-stocks")
    out = attach_text_fields(ws, panel, ["tone"], embedder=embedder)
    tone = out["text:tone"]
    assert tone.shape == panel.shape
    docs = load_documents(ws, panel.assets)
    assert len(docs) == 60
    # a document published at 13:00 + 30 min counts from the next day's bar, not its own
    for _, d in docs.iterrows():
        j = panel.asset_index(d["asset"])
        t_pub = int(panel.index.searchsorted(d["published_at"].normalize()))
        first = docs[docs["asset"] == d["asset"]]["published_at"].min()
        if d["published_at"] == first:
            assert np.isnan(tone[: t_pub + 1, j]).all()
            assert np.isfinite(tone[t_pub + 1, j])
    # good news scores higher than bad news
    good = [tone[DAYS.searchsorted(pd.Timestamp(w).normalize().tz_localize("UTC")) + 1,
                 ASSETS.index(a)]
            for a, w, t in corpus() if t.startswith(a + " beats")]  # fmt: skip
    bad = [tone[DAYS.searchsorted(pd.Timestamp(w).normalize().tz_localize("UTC")) + 1,
                ASSETS.index(a)]
           for a, w, t in corpus() if "misses" in t]  # fmt: skip
    assert np.nanmean(good) > np.nanmean(bad)
    # embeddings were cached: the same values without a model
    cached = list((ws.root / "cache" / "embeddings").glob("*.npz"))
    assert cached

    class NoModel:
        model_id = embedder.model_id

        def encode(self, texts: list[str]) -> np.ndarray:
            raise AssertionError("everything is cached")

    again = attach_text_fields(ws, panel, ["tone"], embedder=NoModel())  # type: ignore[arg-type]
    np.testing.assert_array_equal(again["text:tone"], tone)


def test_text_in_an_expression_through_evaluate_dataset(ws: Workspace, embedder: Embedder) -> None:
    from alphaloop.factors import FactorCache

    cache = FactorCache(ws.root / "cache" / "factors")
    expr = 'CsRank(Text("tone"))'
    result = evaluate_dataset(ws.data, {"r": expr}, "news-stocks", workspace=ws, cache=cache)
    panel = attach_text_fields(ws, ws.data.load("news-stocks"), ["tone"], embedder=embedder)
    tone = panel["text:tone"]
    r = result.values["r"]
    assert np.isfinite(r).sum() == np.isfinite(tone).sum() > 0
    row = int(np.flatnonzero(np.isfinite(tone).sum(axis=1) >= 2)[0])
    ok = np.isfinite(tone[row])
    assert np.array_equal(np.argsort(r[row, ok]), np.argsort(tone[row, ok]))
    with pytest.raises(ExpressionError, match="no workspace was given"):
        evaluate_dataset(ws.data, {"r": expr}, "news-stocks")
    with pytest.raises(ConfigError, match="no text factor 'nope'"):
        evaluate_dataset(ws.data, {"r": 'Text("nope")'}, "news-stocks", workspace=ws)
    # a document added later changes the cached values' key, and nothing before it
    insert_documents(ws, [("AAA", "2024-02-16 09:00", BAD.format("AAA"))])
    later = evaluate_dataset(ws.data, {"r": expr}, "news-stocks", workspace=ws, cache=cache)
    t_new = int(DAYS.searchsorted(pd.Timestamp("2024-02-16 09:30", tz="UTC")))
    np.testing.assert_array_equal(later.values["r"][:t_new], r[:t_new])
    assert not np.array_equal(later.values["r"][t_new:], r[t_new:], equal_nan=True)


def test_a_backtest_signal_reads_text_factors(ws: Workspace) -> None:
    spec = StrategySpec.from_dict(
        {"name": "tone", "data": "news-stocks", "signal": {"expr": 'CsRank(Text("tone"))'},
         "portfolio": {"k": 2}}
    )  # fmt: skip
    _, panel = load_strategy_data(ws, spec)
    assert "text:tone" in panel
    assert np.isfinite(panel["text:tone"]).any()


def test_summary_of_values(ws: Workspace, embedder: Embedder) -> None:
    doc = text_factor_summary(ws, "tone", "news-stocks", start="2024-01-10", embedder=embedder)
    assert doc["kind"] == "sentiment"
    assert doc["times"] == int((pd.Timestamp("2024-01-10", tz="UTC") <= DAYS).sum())
    assert 0 < doc["valid"] <= doc["cells"]
    assert doc["min"] <= doc["mean"] <= doc["max"]


def test_a_read_only_workspace_reads_the_cache_and_writes_nothing(
    ws: Workspace, embedder: Embedder
) -> None:
    insert_documents(ws, [("BBB", "2024-02-20 10:00", GOOD.format("BBB"))])  # not embedded yet
    before = sorted((ws.root / "cache" / "embeddings").glob("*.npz"))
    with Workspace(ws.root, read_only=True) as reader:
        panel = attach_text_fields(reader, reader.data.load("news-stocks"), ["tone"],
                                   embedder=embedder)  # fmt: skip
        assert sorted((ws.root / "cache" / "embeddings").glob("*.npz")) == before
        written = attach_text_fields(ws, ws.data.load("news-stocks"), ["tone"], embedder=embedder)
        np.testing.assert_allclose(panel["text:tone"], written["text:tone"], atol=1e-6)
