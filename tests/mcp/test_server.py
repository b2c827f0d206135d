"""The MCP server end to end: tools listed, called, refused, and the holdout kept sealed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.mcp.conftest import SRC, McpClient

WRITES = {"backtest", "validate", "factor_library_add", "model_train"}
READS = {
    "data_list",
    "data_describe",
    "factor_eval",
    "factor_analyze",
    "strategies_top",
    "strategies_show",
    "models_list",
    "model_show",
    "runs_list",
}
SPEC = """
name: mcp-momentum
data: sp500-stocks
signal: {expr: "$close / Ref($close, 20) - 1"}
portfolio: {method: top_k, k: 3}
fills: next_close
start: "2010-01-01"
end: "2011-12-31"
"""


def test_read_only_server_lists_no_write_tool(reader: McpClient) -> None:
    tools = reader.tools()
    assert set(tools) >= READS
    assert not WRITES & set(tools)
    assert all(t.annotations.read_only_hint for t in tools.values())
    schema = tools["factor_eval"].input_schema
    assert schema["required"] == ["expression", "data"]
    assert schema["properties"]["expression"]["description"]


def test_read_only_server_refuses_a_write_tool(reader: McpClient) -> None:
    result = reader.call("backtest", {"spec": SPEC})
    assert result.is_error
    assert "unknown tool: backtest" in result.content[0].text.lower()


def test_write_server_lists_write_tools_marked(writer: McpClient) -> None:
    tools = writer.tools()
    assert set(tools) >= WRITES | READS
    for name in WRITES:
        assert tools[name].description.startswith("WRITES:")
        assert tools[name].annotations.read_only_hint is False


def test_data_list_and_describe(reader: McpClient) -> None:
    names = {d["name"] for d in reader.json("data_list")["datasets"]}
    assert "sp500-stocks" in names
    doc = reader.json("data_describe", {"name": "sp500-stocks", "preview_rows": 3})
    assert doc["assets"] == 20
    assert any("survivorship" in c for c in doc["caveats"])
    assert len(doc["preview"]) == 3


def test_factor_eval_returns_summary_and_a_capped_sample(reader: McpClient) -> None:
    doc = reader.json(
        "factor_eval",
        {
            "expression": "Mean($close, 5) / $close",
            "data": "sp500-stocks",
            "start": "2010-01-01",
            "end": "2010-03-31",
            "max_rows": 7,
        },
    )
    assert doc["assets"] == 20
    assert doc["rows_total"] == doc["factor"]["valid"] > 7
    assert doc["rows_returned"] == len(doc["sample"]) == 7
    assert "7 of" in doc["sample_note"]
    assert 0.9 < doc["factor"]["mean"] < 1.1
    assert doc["sample"][-1]["time"].startswith("2010-03-31")


def test_bad_input_is_a_tool_error_and_the_server_lives_on(reader: McpClient) -> None:
    bad = reader.call("factor_eval", {"expression": "Mean($close, 5", "data": "sp500-stocks"})
    assert bad.is_error
    assert "ExpressionError" in bad.content[0].text
    unknown = reader.call("data_describe", {"name": "sp500-stonks"})
    assert unknown.is_error
    text = unknown.content[0].text
    assert "DatasetNotFoundError" in text
    assert "(hint: " in text
    schema = reader.call(
        "factor_eval", {"expression": "$close", "data": "sp500-stocks", "max_rows": -1}
    )
    assert schema.is_error
    assert "max_rows" in schema.content[0].text
    assert "sp500-stocks" in {d["name"] for d in reader.json("data_list")["datasets"]}


def test_the_holdout_span_is_not_readable(reader: McpClient) -> None:
    doc = reader.json("data_describe", {"name": "sp500-stocks", "preview_rows": 2})
    boundary = pd.Timestamp(doc["holdout_start"])
    assert boundary < pd.Timestamp(doc["end"])  # the product's default holdout is sealed
    assert all(pd.Timestamp(r["timestamp"]) < boundary for r in doc["preview"])
    inside = (boundary + pd.Timedelta(days=30)).date().isoformat()
    refused = reader.call(
        "factor_eval", {"expression": "$close", "data": "sp500-stocks", "start": inside}
    )
    assert refused.is_error
    assert "HoldoutError" in refused.content[0].text
    start = (boundary - pd.Timedelta(days=20)).date().isoformat()
    clipped = reader.json(
        "factor_eval",
        {"expression": "$close", "data": "sp500-stocks", "start": start, "end": doc["end"]},
    )
    assert pd.Timestamp(clipped["end"]) < boundary
    assert all(pd.Timestamp(r["time"]) < boundary for r in clipped["sample"])
    assert any("sealed holdout" in n for n in clipped["notes"])


@pytest.fixture(scope="module")
def backtested(writer: McpClient) -> dict:
    return writer.json("backtest", {"spec": SPEC})


def test_backtest_records_a_run_and_a_trial(writer: McpClient, backtested: dict) -> None:
    assert backtested["n_trials"] >= 1
    assert backtested["metrics"]["sharpe_ratio"] is not None
    assert backtested["period"]["start"].startswith("2010")
    assert backtested["trades"] == []  # max_trades 0: the fills are not listed
    runs = writer.json("runs_list", {"kind": "backtest"})["runs"]
    assert backtested["run_id"] in [r["id"] for r in runs]


def test_strategies_queries_see_the_backtest(reader: McpClient, backtested: dict) -> None:
    top = reader.json("strategies_top", {"data": "sp500-stocks"})
    assert backtested["spec_hash"] in [s["hash"] for s in top["strategies"]]
    assert top["n_trials"] >= backtested["n_trials"] >= 1  # later tests may add trials
    shown = reader.json("strategies_show", {"ref": backtested["spec_hash"][:12]})
    assert shown["name"] == "mcp-momentum"
    assert shown["spec"]["portfolio"]["k"] == 3
    assert len(shown["evaluations"]) >= 1
    missing = reader.call("strategies_show", {"ref": "0123456789ab"})
    assert missing.is_error
    assert "StrategyNotFoundError" in missing.content[0].text


def test_a_bad_spec_is_refused_and_not_a_trial(writer: McpClient, backtested: dict) -> None:
    before = writer.json("strategies_top", {"data": "sp500-stocks"})["n_trials"]
    assert before >= backtested["n_trials"]
    bad = writer.call("backtest", {"spec": {"name": "x", "data": "sp500-stocks", "fills": "later"}})
    assert bad.is_error
    assert "SpecError" in bad.content[0].text
    assert writer.json("strategies_top", {"data": "sp500-stocks"})["n_trials"] == before


def test_an_unknown_model_is_a_tool_error(reader: McpClient) -> None:
    missing = reader.call("model_show", {"ref": "nothing/v1"})
    assert missing.is_error


def test_validate_reports_the_statistics_and_the_verdict(
    writer: McpClient, backtested: dict
) -> None:
    doc = writer.json("validate", {"spec": SPEC})
    assert doc["spec_hash"] == backtested["spec_hash"]
    for key in ("psr", "dsr", "pbo"):
        assert 0.0 <= doc[key] <= 1.0
    family = doc["family"]
    assert doc["n_trials"] == family["recorded_trials"] >= 1  # the trials made on the dataset
    assert family["size"] > family["recorded_trials"]  # and the spec's neighbours
    assert isinstance(doc["passed"], bool)
    assert doc["reasons"] or doc["passed"]
    assert "validate" in {r["kind"] for r in writer.json("runs_list")["runs"]}


def test_factor_analyze_an_expression(reader: McpClient) -> None:
    doc = reader.json(
        "factor_analyze",
        {
            "target": "$close / Ref($close, 20) - 1",
            "data": "sp500-stocks",
            "start": "2010-01-01",
            "end": "2011-12-31",
            "horizon": 5,
            "known": [],
        },
    )
    assert doc["horizon"] == 5
    assert doc["n_periods"] > 400
    assert -1.0 <= doc["rank_ic_mean"] <= 1.0


def test_factor_library_add_then_listed(writer: McpClient) -> None:
    added = writer.json(
        "factor_library_add",
        {
            "library": "name: mcp-lib\ndescription: one\n"
            "factors:\n  mom: $close / Ref($close, 20) - 1\n"
        },
    )
    assert added["factors"] == 1
    libs = {lib["name"]: lib for lib in writer.json("factor_libraries")["libraries"]}
    assert libs["mcp-lib"]["factors"] == {"mom": "$close / Ref($close, 20) - 1"}
    peek = writer.call(
        "factor_library_add",
        {"library": {"name": "peek", "description": "", "factors": {"f": "Ref($close, -1)"}}},
    )
    assert peek.is_error
    assert "peek" not in {lib["name"] for lib in writer.json("factor_libraries")["libraries"]}


MODEL_SPEC = {
    "name": "mcp-tiny",
    "data": "sp500-stocks",
    "end": "1999-12-31",
    "features": {"mom20": "$close / Ref($close, 20) - 1"},
    "label": {"horizon": 5},
    "model": {"family": "ridge"},
    "training": {"n_splits": 3},
}


def test_model_train_then_listed_and_shown(writer: McpClient, reader: McpClient) -> None:
    trained = writer.json("model_train", {"spec": MODEL_SPEC})
    assert trained["ref"] == "mcp-tiny/v1"
    assert [m["ref"] for m in reader.json("models_list")["models"]] == ["mcp-tiny/v1"]
    shown = reader.json("model_show", {"ref": "mcp-tiny"})
    assert shown["family"] == "ridge"
    assert shown["lineage"] == ["mcp-tiny/v1"]


def test_a_missing_workspace_is_refused_before_serving(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = subprocess.run(
        [sys.executable, "-m", "alphaloop.cli", "--workspace", str(missing), "mcp"],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3
    assert "no workspace at" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not missing.exists()


def test_a_backtest_stops_at_the_holdout(writer: McpClient) -> None:
    boundary = pd.Timestamp(
        writer.json("data_describe", {"name": "sp500-stocks", "preview_rows": 0})["holdout_start"]
    )
    spec = {
        "name": "mcp-late",
        "data": "sp500-stocks",
        "signal": {"expr": "$close / Ref($close, 20) - 1"},
        "fills": "next_close",
        "start": (boundary - pd.Timedelta(days=120)).date().isoformat(),
        "end": "2022-12-28",
    }
    doc = writer.json("backtest", {"spec": spec})
    assert pd.Timestamp(doc["period"]["end"]) < boundary
    assert any("sealed holdout" in n for n in doc["notes"])
