"""LLM hypotheses in a mining session: same folds, counted as trials, the holdout never in a
prompt, the memorisation guard, the offline run when the model gives nothing usable."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from alphaloop.app import Workspace
from alphaloop.app.mining import evaluate_mined_holdout, factor_trials, mine_dataset
from alphaloop.factors.mining import MiningConfig, planted_panel, span_ics
from alphaloop.llm import LLMClient, LLMSettings, ResponseCache
from tests.llm.servers import ProtocolServer, Reply, openai_body, running

CONFIG = MiningConfig(budget=300, population=100, pool=4, seed=0)
CUTOFF = dt.date(2016, 1, 31)  # inside the search span, with ~150 searchable bars after it
PLANTED_VOLUME = 987654321.0  # only in holdout rows


def _workspace(root: Path) -> Workspace:
    pp = planted_panel(alpha="corr_close_volume", seed=11, n_times=600, n_assets=30)
    long = pp.panel.to_long()
    stamps = pd.to_datetime(long["timestamp"])
    last = stamps >= stamps.sort_values().unique()[-40]  # the last 40 bars: inside the holdout
    long.loc[last.to_numpy(), "volume"] = PLANTED_VOLUME
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "planted.csv"
    long.to_csv(csv, index=False)
    ws = Workspace(root / "ws", holdout_fraction=0.25)
    ws.data.import_file(csv, "planted")
    return ws


def answer(*expressions: str) -> Reply:
    items = [
        {
            "name": f"h{i}",
            "expression": e,
            "rationale": "price and volume move together before reversals",
            "expected_sign": "negative",
            "horizon": 5,
        }
        for i, e in enumerate(expressions)
    ]
    return Reply(body=openai_body(json.dumps({"hypotheses": items})))


@pytest.fixture
def server() -> Iterator[ProtocolServer]:
    with running("openai") as s:
        yield s


def client_of(server: ProtocolServer, cache: ResponseCache | None = None) -> LLMClient:
    settings = LLMSettings(
        base_url=server.url, model="local-model", max_retries=0, knowledge_cutoff=CUTOFF
    )
    return LLMClient(settings, cache=cache)


def prompts(server: ProtocolServer) -> str:
    return "\n".join(m["content"] for r in server.requests for m in r["body"]["messages"])


def test_hypotheses_are_scored_counted_and_guarded(tmp_path: Path, server) -> None:
    ws = _workspace(tmp_path)
    boundary = pd.Timestamp(ws.data.holdout_boundary("planted"))
    # an earlier session, its pool saved as a library and evaluated on the holdout
    first = mine_dataset(ws, "planted", CONFIG, library="mined-before")
    holdout = evaluate_mined_holdout(ws, first.session_id, note="planted figures")
    n_before = factor_trials(ws, "planted")

    server.script = [answer("Corr($close, $volume, 10)", "__import__('os')")]
    with client_of(server) as client:
        outcome = mine_dataset(
            ws,
            "planted",
            CONFIG,
            report=tmp_path / "r.html",
            library="with-llm",
            llm=client,
            n_hypotheses=2,
        )
    s = outcome.summary

    # the prompt: search-span facts, never the holdout
    text = prompts(server)
    assert "$close" in text
    assert "$volume" in text
    assert "mined-before/F01" in text  # existing factors, with their training-fold IC
    dates = {d for d in re.findall(r"\d{4}-\d{2}-\d{2}", text)}
    assert dates
    assert all(pd.Timestamp(d, tz=boundary.tz) < boundary for d in dates)
    assert "987654321" not in text
    figures = [holdout["pool"]["mean_ic"], *(f["mean_ic"] for f in holdout["factors"].values())]
    for x in figures:
        assert x is not None
        assert f"{x:+.4f}" not in text
        assert f"{x:.4f}" not in text
    assert str(round(holdout["pool"]["t_stat"], 2)) not in text

    # the same path as every candidate: scored on the same folds, counted as trials
    asked = s["hypotheses"]
    assert asked["source"] == "llm:local-model"
    assert [h["expression"] for h in asked["accepted"]] == ["Corr($close,$volume,10)"]
    assert [r["name"] for r in asked["rejected"]] == ["h1"]
    assert s["config"]["hypotheses"][0]["source"] == "llm:local-model"
    assert s["status_counts"]  # candidates recorded
    assert s["n_scored"] == 300
    assert s["n_trials"] == 300 + n_before
    assert factor_trials(ws, "planted") > n_before

    # the memorisation guard: LLM-originated pool factors on the bars after the cut-off
    guard = s["memorisation_guard"]
    assert guard["span"]["cutoff"] == CUTOFF.isoformat()
    assert pd.Timestamp(guard["span"]["start"]) > pd.Timestamp(CUTOFF)
    assert pd.Timestamp(guard["span"]["end"], tz=boundary.tz) < boundary
    from_llm = [m for m in s["pool"]["members"] if "llm:local-model" in m.get("origins", [])]
    assert from_llm, "the planted formula, proposed by the model, should reach the pool"
    assert set(guard["factors"]) == {m["name"] for m in from_llm}
    panel = ws.data.load("planted")
    start = int(panel.index.get_loc(pd.Timestamp(guard["span"]["start"], tz=panel.index.tz)))
    check = span_ics(panel, {m["name"]: m["expression"] for m in from_llm}, CONFIG, start_row=start)
    for m in from_llm:
        g = guard["factors"][m["name"]]
        assert g["n_days"] == check[m["name"]].n_days > 0
        assert math.isclose(g["post_cutoff_ic"], check[m["name"]].mean_ic)
    lib = yaml.safe_load(outcome.library_path.read_text())
    for m in from_llm:
        assert lib["provenance"]["factors"][m["name"]]["origins"] == m["origins"]
    html = (tmp_path / "r.html").read_text()
    assert html.index("Memorisation guard") < html.index("<h2>Pool</h2>")
    assert "__import__" in html  # the refused text is shown, escaped
    ws.close()


def test_no_usable_answer_is_the_offline_run(tmp_path: Path, server) -> None:
    ws = _workspace(tmp_path)
    offline = mine_dataset(ws, "planted", CONFIG)
    server.script = [answer("Mean($nope, 5)"), answer("__import__('os')")]
    with client_of(server) as client:
        outcome = mine_dataset(ws, "planted", CONFIG, llm=client)
    assert len(server.requests) == 2  # one repair round
    assert outcome.session_id == offline.session_id  # the same run: nothing mined again
    assert outcome.summary["pool"] == offline.summary["pool"]
    assert "repair round" in outcome.summary["hypotheses"]["fallback"]
    ws.close()


def test_a_session_replays_from_the_cache_without_the_model(tmp_path: Path, server) -> None:
    ws = _workspace(tmp_path)
    cache = tmp_path / "llm.sqlite"
    server.script = [answer("Corr($close, $volume, 10)")]
    with client_of(server, ResponseCache(cache, "use")) as client:
        first = mine_dataset(ws, "planted", CONFIG, llm=client)
    server.stop()
    with client_of(server, ResponseCache(cache, "replay")) as client:
        again = mine_dataset(ws, "planted", CONFIG, llm=client)
    assert again.resumed
    assert again.session_id == first.session_id
    assert again.summary["hypotheses"] == first.summary["hypotheses"]
    assert np.isfinite(first.summary["pool"]["valid_ic"])
    ws.close()
