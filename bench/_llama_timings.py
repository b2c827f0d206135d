"""Where a llama.cpp request's time goes: the timings a verbose llama-cpp-python server logs.

With ``--verbose True`` the server prints, after every request, llama.cpp's
``llama_perf_context_print`` lines: the prompt tokens evaluated (those not
already in its cache) and their time, the tokens written (one forward pass,
"run", each) and their time, and the request's total time inside llama.cpp
(sampling, the grammar and the Python loop included). :class:`ServerTimings`
reads the log file from where it last stopped and sums those figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_PROMPT = re.compile(r"prompt eval time\s*=\s*([\d.]+) ms /\s*(\d+) tokens")
_EVAL = re.compile(r"\beval time\s*=\s*([\d.]+) ms /\s*(\d+) runs")
_TOTAL = re.compile(r"total time\s*=\s*([\d.]+) ms")


@dataclass
class Timings:
    """Sums over some requests (milliseconds, tokens)."""

    requests: int = 0
    prompt_tokens: int = 0
    prompt_ms: float = 0.0
    runs: int = 0
    eval_ms: float = 0.0
    total_ms: float = 0.0

    @property
    def other_ms(self) -> float:
        """Inside llama.cpp but neither evaluation: sampling, grammar, the Python loop."""
        return max(0.0, self.total_ms - self.prompt_ms - self.eval_ms)


class ServerTimings:
    """The timings a verbose server appended to ``path`` since the last :meth:`take`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def take(self) -> Timings:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            text = f.read().decode("utf-8", errors="replace")
            self.offset = f.tell()
        out = Timings()
        for line in text.splitlines():
            if "llama_perf_context_print" not in line:
                continue
            if m := _PROMPT.search(line):
                out.prompt_ms += float(m.group(1))
                out.prompt_tokens += int(m.group(2))
            elif m := _EVAL.search(line):
                out.eval_ms += float(m.group(1))
                out.runs += int(m.group(2))
            elif m := _TOTAL.search(line):
                out.total_ms += float(m.group(1))
                out.requests += 1
        return out
