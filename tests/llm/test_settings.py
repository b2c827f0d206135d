"""LLMSettings from the environment."""

from __future__ import annotations

import datetime as dt

import pytest

from alphaloop.llm import LLMSettings


def test_defaults():
    s = LLMSettings()
    assert s.provider == "openai"
    assert s.endpoint_root == "https://api.openai.com/v1"
    assert s.api_key_env is None
    assert s.knowledge_cutoff is None


def test_from_environment(monkeypatch):
    monkeypatch.setenv("ALPHALOOP_LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("ALPHALOOP_LLM_MODEL", "claude-x")
    monkeypatch.setenv("ALPHALOOP_LLM_API_KEY_ENV", "ANTHROPIC_API_KEY")
    monkeypatch.setenv("ALPHALOOP_LLM_TIMEOUT_S", "12.5")
    monkeypatch.setenv("ALPHALOOP_LLM_MAX_RETRIES", "5")
    monkeypatch.setenv("ALPHALOOP_LLM_KNOWLEDGE_CUTOFF", "2024-06-01")
    monkeypatch.setenv("ALPHALOOP_LLM_PRICE_INPUT_PER_1K", "0.003")
    s = LLMSettings()
    assert (s.provider, s.model, s.api_key_env) == ("anthropic", "claude-x", "ANTHROPIC_API_KEY")
    assert (s.timeout_s, s.max_retries) == (12.5, 5)
    assert s.knowledge_cutoff == dt.date(2024, 6, 1)
    assert s.price_input_per_1k == 0.003
    assert s.endpoint_root == "https://api.anthropic.com"


def test_base_url_trailing_slash(monkeypatch):
    monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", "http://127.0.0.1:11434/v1/")
    assert LLMSettings().endpoint_root == "http://127.0.0.1:11434/v1"


@pytest.mark.parametrize(
    ("field", "value"),
    [("provider", "gemini"), ("timeout_s", 0), ("max_retries", -1), ("price_output_per_1k", -1)],
)
def test_bad_values_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        LLMSettings(**{field: value})


def test_workspace_settings_ignore_llm_variables(monkeypatch):
    from alphaloop.settings import Settings

    monkeypatch.setenv("ALPHALOOP_LLM_MODEL", "x")
    assert Settings().holdout_fraction >= 0.0
