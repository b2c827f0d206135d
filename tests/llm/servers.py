"""Local servers that speak the OpenAI chat-completions (and plain completions) and Anthropic
Messages protocols.

Each server runs ``http.server`` in a thread on 127.0.0.1 (a free port),
records every request (path, headers, JSON body), checks it against the
protocol (problems go to ``protocol_errors``), and answers from a script:
a queue of :class:`Reply` objects, then ``default`` for every later request.
A reply either sends a status, headers and body, or acts on the connection
(``reset``: close it without answering; ``hang``: wait past the client's
timeout).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None  # "reset" | "hang"
    content_type: str = "application/json"


def openai_body(content: Any, *, prompt_tokens: int = 11, completion_tokens: int = 7) -> bytes:
    """A chat-completions answer whose message content is ``content``."""
    return json.dumps(
        {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "local-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    ).encode()


def completion_body(
    text: str, *, finish_reason: str = "stop", prompt_tokens: int = 11, completion_tokens: int = 2
) -> bytes:
    """A plain ``/completions`` answer whose text is ``text``."""
    return json.dumps(
        {
            "id": "cmpl-local",
            "object": "text_completion",
            "created": 1_700_000_000,
            "model": "local-model",
            "choices": [
                {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    ).encode()


def anthropic_body(
    *, tool_input: Any = None, text: str | None = None, tool_name: str = "Idea"
) -> bytes:
    """A Messages answer with a ``tool_use`` block (``tool_input``) or a text block."""
    blocks: list[dict[str, Any]] = []
    if text is not None:
        blocks.append({"type": "text", "text": text})
    if tool_input is not None:
        blocks.append(
            {"type": "tool_use", "id": "toolu_local", "name": tool_name, "input": tool_input}
        )
    return json.dumps(
        {
            "id": "msg_local",
            "type": "message",
            "role": "assistant",
            "model": "local-claude",
            "content": blocks,
            "stop_reason": "tool_use" if tool_input is not None else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 23, "output_tokens": 5},
        }
    ).encode()


class ProtocolServer:
    """A scripted local server of one protocol (``openai`` or ``anthropic``)."""

    def __init__(self, protocol: str, *, hang_s: float = 2.0) -> None:
        self.protocol = protocol
        self.hang_s = hang_s
        self.script: list[Reply] = []
        self.default = Reply(body=openai_body("{}"))
        self.requests: list[dict[str, Any]] = []
        self.protocol_errors: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                server._record(self.path, dict(self.headers), raw)
                reply = server._next()
                if reply.action == "reset":
                    self.close_connection = True
                    self.connection.close()
                    return
                if reply.action == "hang":
                    time.sleep(server.hang_s)
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        root = f"http://{host}:{port}"
        return f"{root}/v1" if self.protocol == "openai" else root

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
            self.protocol_errors.append("request body is not JSON")
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append({"path": path, "headers": lower, "body": body})
        if isinstance(body, dict):
            check = self._check_anthropic if self.protocol == "anthropic" else self._check_openai
            self.protocol_errors.extend(check(path, lower, body))

    @staticmethod
    def _check_openai(path: str, headers: dict[str, str], body: dict[str, Any]) -> list[str]:
        problems = []
        if not isinstance(body.get("model"), str):
            problems.append("no model")
        if path == "/v1/completions":  # a plain completion: a prompt, maybe a GBNF grammar
            if not isinstance(body.get("prompt"), str) or not body["prompt"]:
                problems.append("no prompt")
            if "grammar" in body and not isinstance(body["grammar"], str):
                problems.append("grammar is not text")
            if "messages" in body or "response_format" in body:
                problems.append("chat fields in a plain completion")
            return problems
        if path != "/v1/chat/completions":
            problems.append(f"path {path}")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            problems.append("no messages")
        elif any(m.get("role") not in ("system", "user", "assistant") for m in messages):
            problems.append("bad role")
        fmt = body.get("response_format")
        if fmt is not None and fmt.get("type") == "json_object":  # llama-cpp-python's form
            if not isinstance(fmt.get("schema"), dict) or set(fmt) != {"type", "schema"}:
                problems.append("json_object response_format without exactly a schema")
        elif fmt is not None:
            spec = fmt.get("json_schema", {})
            if fmt.get("type") != "json_schema" or spec.get("strict") is not True:
                problems.append("response_format is not strict json_schema")
            if not isinstance(spec.get("name"), str) or not isinstance(spec.get("schema"), dict):
                problems.append("json_schema without name or schema")
        return problems

    @staticmethod
    def _check_anthropic(path: str, headers: dict[str, str], body: dict[str, Any]) -> list[str]:
        problems = []
        if path != "/v1/messages":
            problems.append(f"path {path}")
        if "anthropic-version" not in headers:
            problems.append("no anthropic-version header")
        if "authorization" in headers:
            problems.append("Authorization header sent to Anthropic")
        if not isinstance(body.get("max_tokens"), int):
            problems.append("no max_tokens")
        messages = body.get("messages", [])
        if not messages or any(m.get("role") not in ("user", "assistant") for m in messages):
            problems.append("messages must be user/assistant only")
        if messages and messages[0].get("role") != "user":
            problems.append("first message is not from the user")
        tools = body.get("tools")
        if tools is not None:
            if not all(isinstance(t.get("input_schema"), dict) for t in tools):
                problems.append("tool without input_schema")
            if body.get("tool_choice", {}).get("type") != "tool":
                problems.append("tool not forced")
        return problems


@contextmanager
def running(protocol: str, **kwargs: Any) -> Iterator[ProtocolServer]:
    """A started :class:`ProtocolServer`, stopped afterwards."""
    server = ProtocolServer(protocol, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
