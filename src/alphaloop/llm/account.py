"""The token and cost account of one session of language-model calls."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["TokenAccount"]


@dataclass
class TokenAccount:
    """Calls, tokens and cost, summed over a session.

    Tokens come from the ``usage`` of each answer; answers served by the
    response cache count in ``cached_calls`` and add neither tokens nor cost
    (they cost nothing this time). Cost is in USD, None when the settings
    carry no prices.

    Attributes
    ----------
    calls : int
        Answers received over HTTP.
    cached_calls : int
        Answers served by the response cache.
    prompt_tokens, completion_tokens : int
        Tokens billed for the HTTP answers.
    cost_usd : float or None
        ``prompt_tokens / 1000 * price_input_per_1k + completion_tokens / 1000 *
        price_output_per_1k``.
    """

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None

    def record(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        cached: bool,
        price_input_per_1k: float | None = None,
        price_output_per_1k: float | None = None,
    ) -> None:
        """Add one answer to the account."""
        if cached:
            self.cached_calls += 1
            return
        self.calls += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if price_input_per_1k is not None or price_output_per_1k is not None:
            cost = prompt_tokens / 1000.0 * (price_input_per_1k or 0.0)
            cost += completion_tokens / 1000.0 * (price_output_per_1k or 0.0)
            self.cost_usd = (self.cost_usd or 0.0) + cost

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with ``total_tokens``."""
        return {**asdict(self), "total_tokens": self.total_tokens}
