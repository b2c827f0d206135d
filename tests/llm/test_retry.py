"""Retries: which failures are retried, how long the client waits, Retry-After."""

from __future__ import annotations

import datetime as dt

import pytest

from alphaloop.llm import LLMHTTPError, RetryPolicy, parse_retry_after
from tests.llm.servers import Reply, openai_body
from tests.llm.support import VALID_TEXT, make_client

MESSAGES = [{"role": "user", "content": "hello"}]
OK = Reply(body=openai_body(VALID_TEXT))


def test_5xx_then_success_waits_with_full_jitter(openai_server, sleeps):
    openai_server.script = [Reply(status=503), Reply(status=502), OK]
    answer = make_client(openai_server, sleeps, max_retries=3).complete(MESSAGES)
    assert answer.text == VALID_TEXT
    assert len(openai_server.requests) == 3
    assert len(sleeps) == 2
    assert 0.0 <= sleeps[0] <= 0.5  # first ceiling: base 0.5 s
    assert 0.0 <= sleeps[1] <= 1.0  # doubled
    policy = RetryPolicy(max_retries=3, seed=0)
    assert sleeps == [policy.wait_s(0), policy.wait_s(1)]  # seeded: reproducible


def test_jitter_differs_by_seed_and_repeats_with_it():
    a = [RetryPolicy(seed=1).wait_s(3) for _ in range(1)]
    b = [RetryPolicy(seed=1).wait_s(3) for _ in range(1)]
    c = [RetryPolicy(seed=2).wait_s(3) for _ in range(1)]
    assert a == b
    assert a != c


def test_backoff_is_capped():
    policy = RetryPolicy(base_s=1.0, cap_s=4.0, seed=3)
    waits = [policy.wait_s(10) for _ in range(200)]
    assert max(waits) <= 4.0
    assert max(waits) > 2.0  # the whole [0, cap] is used


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(openai_server, sleeps, status):
    openai_server.script = [Reply(status=status), OK]
    make_client(openai_server, sleeps).complete(MESSAGES)
    assert len(openai_server.requests) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_4xx_fail_at_once(openai_server, sleeps, status):
    openai_server.script = [Reply(status=status, body=b'{"error": "no"}'), OK]
    with pytest.raises(LLMHTTPError) as info:
        make_client(openai_server, sleeps).complete(MESSAGES)
    assert info.value.status == status
    assert len(openai_server.requests) == 1
    assert sleeps == []


def test_retry_after_seconds_is_honoured(openai_server, sleeps):
    openai_server.script = [Reply(status=429, headers={"Retry-After": "7"}), OK]
    make_client(openai_server, sleeps).complete(MESSAGES)
    assert sleeps == [7.0]


def test_retry_after_is_capped(openai_server, sleeps):
    openai_server.script = [Reply(status=503, headers={"Retry-After": "86400"}), OK]
    make_client(openai_server, sleeps).complete(MESSAGES)
    assert sleeps == [30.0]


def test_retry_after_http_date_is_honoured(openai_server, sleeps):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
    header = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    openai_server.script = [Reply(status=429, headers={"Retry-After": header}), OK]
    make_client(openai_server, sleeps).complete(MESSAGES)
    assert len(sleeps) == 1
    assert 10.0 < sleeps[0] <= 20.0


def test_retries_stop_after_max_retries(openai_server, sleeps):
    openai_server.default = Reply(status=500)
    with pytest.raises(LLMHTTPError) as info:
        make_client(openai_server, sleeps, max_retries=4).complete(MESSAGES)
    assert info.value.status == 500
    assert len(openai_server.requests) == 5
    assert len(sleeps) == 4


def test_connection_reset_then_success(openai_server, sleeps):
    openai_server.script = [Reply(action="reset"), OK]
    assert make_client(openai_server, sleeps).complete(MESSAGES).text == VALID_TEXT
    assert len(openai_server.requests) == 2


def test_timeout_then_success(openai_server, sleeps):
    # the hang outlasts the timeout by far; the timeout leaves a loaded machine time to answer
    openai_server.hang_s = 4.0
    openai_server.script = [Reply(action="hang"), OK]
    client = make_client(openai_server, sleeps, timeout_s=1.5)
    assert client.complete(MESSAGES).text == VALID_TEXT
    assert len(openai_server.requests) == 2


NOW = dt.datetime(2026, 12, 4, 14, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("1.5", 1.5),
        ("  12 ", 12.0),
        ("-4", 0.0),
        ("Fri, 04 Dec 2026 14:00:05 GMT", 5.0),
        ("Fri, 04 Dec 2026 13:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds
