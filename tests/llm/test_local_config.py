"""LocalServerConfig: the settings, URL and command of the offline model server (no server run)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from alphaloop.llm import LLMConfigError, LLMSettings, LocalServerConfig


def test_environment_points_alphaloop_at_the_server(monkeypatch):
    config = LocalServerConfig(host="127.0.0.1", port=8123)
    env = config.environment()
    assert env == {
        "ALPHALOOP_LLM_PROVIDER": "openai",
        "ALPHALOOP_LLM_BASE_URL": "http://127.0.0.1:8123/v1",
        "ALPHALOOP_LLM_MODEL": "smollm2-135m-instruct",
        "ALPHALOOP_LLM_JSON_MODE": "json_object_schema",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert LLMSettings() == config.llm_settings()  # what is printed is what is meant


def test_llm_settings_take_overrides():
    settings = LocalServerConfig(port=9000).llm_settings(timeout_s=5, max_retries=0)
    assert (settings.endpoint_root, settings.timeout_s, settings.max_retries) == (
        "http://127.0.0.1:9000/v1",
        5,
        0,
    )
    assert settings.api_key_env is None


def test_ipv6_host_is_bracketed():
    assert LocalServerConfig(host="::1", port=8080).base_url == "http://[::1]:8080/v1"


def test_command_runs_llama_cpp_server_with_the_options():
    argv = LocalServerConfig(port=8124, threads=3, context_tokens=4096).command(Path("/m.gguf"))
    assert argv[:3] == [sys.executable, "-m", "llama_cpp.server"]
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert options["--model"] == "/m.gguf"
    assert options["--port"] == "8124"
    assert options["--n_ctx"] == "4096"
    assert options["--n_threads"] == options["--n_threads_batch"] == "3"
    assert options["--model_alias"] == "smollm2-135m-instruct"


def test_the_server_logs_its_timings_only_when_verbose():
    def verbose(config: LocalServerConfig) -> str:
        argv = config.command(Path("/m.gguf"))
        return argv[argv.index("--verbose") + 1]

    assert verbose(LocalServerConfig()) == "False"
    assert verbose(LocalServerConfig(verbose=True)) == "True"


def test_default_threads_are_left_to_llama_cpp():
    assert "--n_threads" not in LocalServerConfig().command(Path("/m.gguf"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("port", 70000, "port 70000"),
        ("threads", 0, "threads must be at least 1"),
        ("context_tokens", 10, "context_tokens must be at least 256"),
    ],
)
def test_bad_values_are_refused(field, value, message):
    with pytest.raises(LLMConfigError, match=message):
        LocalServerConfig(**{field: value})


def test_the_server_process_runs_no_shell_and_no_model_text():
    """local.py starts one process (the server, from a list argv), never a shell, eval or exec."""
    from alphaloop.llm import local

    no_shell = re.compile(
        r"\b(eval|exec|compile|__import__)\s*\(|\bos\.system\b|shell\s*=|\bpickle\b"
    )
    lines = Path(local.__file__).read_text().splitlines()
    assert [line for line in lines if no_shell.search(line)] == []
    assert sum("subprocess.Popen(" in line for line in lines) == 1
