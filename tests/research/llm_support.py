"""A local OpenAI-protocol server that answers research prompts like a (simple) model.

:class:`ResearcherServer` is the tests' scripted language model: a
:class:`~tests.llm.servers.ProtocolServer` whose answer to each request is
computed from the request (the prompt), deterministically. It reads the
indicator templates and their grids and the top candidates' recipes from
the prompt and answers a valid :class:`ResearchDecision`: an exploit of a
top recipe (one parameter moved along its grid) or an explore of a listed
template. A queue of scripted replies (``script``) comes first, so tests can
plant malformed answers. Requests from one client arrive one at a time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alphaloop.llm import LLMClient, LLMSettings, ResponseCache
from tests.llm.servers import ProtocolServer, Reply, openai_body

_GRID = re.compile(r"^- (\w+)/(\w+): (.*)$")
_PARAM = re.compile(r"(\w+) in (\[[^\]]*\])")
_TOP = re.compile(r"^1\. ([0-9a-f]{12}) ")


def prompt_of(body: dict[str, Any]) -> str:
    """The first user message of a chat-completions request."""
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def _digest(body: dict[str, Any]) -> int:
    text = json.dumps(body["messages"], sort_keys=True)
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def indicator_grids(prompt: str) -> list[tuple[str, str, dict[str, list[Any]]]]:
    """(family, template, grid) of every indicator template listed in the prompt."""
    out = []
    section = False
    for line in prompt.splitlines():
        if line.startswith("Indicator templates"):
            section = True
            continue
        if section and not line.startswith("- "):
            break
        m = _GRID.match(line) if section else None
        if m:
            grid = {p: json.loads(v) for p, v in _PARAM.findall(m.group(3))}
            out.append((m.group(1), m.group(2), grid))
    return out


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """A valid research decision for the request (deterministic in the messages)."""
    prompt = prompt_of(body)
    h = _digest(body)
    top = next((m.group(1) for m in map(_TOP.match, prompt.splitlines()) if m), None)
    recipe_line = next(
        (line.split("recipe: ", 1)[1] for line in prompt.splitlines() if "   recipe: " in line),
        None,
    )
    repair = len(body["messages"]) > 2  # told the last answer could not be used: explore
    if top and recipe_line and h % 2 == 0 and not repair:
        recipe = json.loads(recipe_line)
        grids = {(f, t): g for f, t, g in indicator_grids(prompt)}
        for ind in recipe["indicators"]:
            grid = grids.get((ind["family"], ind["template"]), {})
            for p in ind["params"]:
                values = grid.get(p["name"], [p["value"]])
                p["value"] = values[(h // 7) % len(values)]
        return {
            "decision": "exploit",
            "rationale": f"move a parameter of the best strategy {top}",
            "parent": top,
            "recipe": recipe,
        }
    grids = indicator_grids(prompt)
    family, template, grid = grids[h % len(grids)]
    params = [{"name": p, "value": v[(h // 11) % len(v)]} for p, v in sorted(grid.items())]
    return {
        "decision": "explore",
        "rationale": f"{family} is underexplored: try {template}",
        "parent": None,
        "recipe": {
            "strategy_template": None,
            "template_params": [],
            "indicators": [{"family": family, "template": template, "params": params}],
            "models": [],
            "combine": "equal",
            "logic": {
                "method": "top_k",
                "k": [3, 5, 10][h % 3],
                "quantile": None,
                "entry_long": None,
                "exit_long": None,
            },
            "weighting": ["equal", "inverse_volatility"][h % 2],
            "rebalance": "monthly",
            "exits": None,
            "overlay": None,
        },
    }


class ResearcherServer(ProtocolServer):
    """An OpenAI-protocol server answering with ``responder(request body) -> content``."""

    def __init__(self, responder: Callable[[dict[str, Any]], Any] | None = None) -> None:
        super().__init__("openai")
        self.responder = responder or (lambda body: json.dumps(answer(body)))

    def _next(self) -> Reply:
        with self._lock:
            if self.script:
                return self.script.pop(0)
            body = self.requests[-1]["body"]
        return Reply(body=openai_body(self.responder(body)))

    def prompts(self) -> list[str]:
        """Every message text of every request received."""
        return [m["content"] for r in self.requests for m in r["body"]["messages"]]


@contextmanager
def researcher(**kwargs: Any) -> Iterator[ResearcherServer]:
    """A started :class:`ResearcherServer`, stopped afterwards."""
    server = ResearcherServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def settings_for(url: str, **over: Any) -> LLMSettings:
    """Settings of a local server (no key, short timeout, no retries)."""
    return LLMSettings(
        **{
            "provider": "openai",
            "model": "local-researcher",
            "base_url": url,
            "timeout_s": 5.0,
            "max_retries": 0,
            **over,
        }
    )


def client_for(url: str, cache: ResponseCache | None = None, **over: Any) -> LLMClient:
    """A client of a local server."""
    return LLMClient(settings_for(url, **over), cache=cache, sleep=lambda s: None)
