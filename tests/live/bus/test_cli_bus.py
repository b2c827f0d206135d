"""``alphaloop bus topics`` and ``alphaloop bus dead-letters`` on the test server."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from alphaloop.cli.bus import bus_app
from alphaloop.live.bus import RedisBus
from tests.live.bus.conftest import REDIS_URL
from tests.live.bus.test_memory import bars

runner = CliRunner()


def test_topics_and_dead_letters(redis_bus: RedisBus) -> None:
    consumer = redis_bus.subscribe("market", "book", lambda e: None)
    redis_bus.publish_many(bars(4), "market")
    consumer.poll(max_events=1)
    redis_bus.publish_many(bars(2, start=4), "market")
    redis_bus.publish_raw(b'{"type": "tick", "version": 1}', "market")
    args = ["--url", REDIS_URL, "--prefix", redis_bus.prefix]

    result = runner.invoke(bus_app, ["topics", *args, "--json"])
    assert result.exit_code == 0, result.output
    infos = {i["topic"]: i for i in json.loads(result.output)}
    assert set(infos) == {"market", "dead-letter"}
    [group] = infos["market"]["groups"]
    assert (infos["market"]["length"], group["group"], group["pending"], group["lag"]) == (
        6,
        "book",
        0,
        2,
    )
    table = runner.invoke(bus_app, ["topics", *args])
    assert "market" in table.output
    assert "book" in table.output

    result = runner.invoke(bus_app, ["dead-letters", *args])
    assert result.exit_code == 0, result.output
    assert "unknown event type 'tick'" in result.output
    letters = json.loads(runner.invoke(bus_app, ["dead-letters", *args, "--json"]).output)
    assert [d["reason"] for d in letters] == ["unknown event type 'tick'"]


def test_an_empty_prefix_says_so(redis_prefix: str) -> None:
    result = runner.invoke(bus_app, ["topics", "--url", REDIS_URL, "--prefix", redis_prefix])
    assert result.exit_code == 0
    assert "no topics under the prefix" in result.output
    result = runner.invoke(bus_app, ["dead-letters", "--url", REDIS_URL, "--prefix", redis_prefix])
    assert "no dead letters" in result.output
