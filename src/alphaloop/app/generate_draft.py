"""Where a generated strategy's draft comes from: a language model, or the offline parser.

:func:`make_draft` asks the configured model for a
:class:`~alphaloop.research.draft.StrategyDraft` (JSON that must validate
against the draft's portable schema; one repair round with the validation
errors), or, from a grammar-bound local server, value by value (the family,
then its template, parameters and portfolio, each written under a grammar after
a prefilled answer; :func:`~alphaloop.research.draft_local.ask_local_draft`), turns it into a
spec, and falls back to the offline intent parser
(:func:`~alphaloop.research.intent.parse_intent`) when no model is
configured, when ``offline`` is asked, or when the model fails (transport
errors, an answer still invalid after the repair round, a draft that does
not make a spec on this dataset). The source says which, and why.

The prompt carries the idea, the dataset's name, frequency, field names and
asset names, never a price or a date of the data (so nothing of the sealed
holdout reaches it). The model's text is data: it is parsed as JSON and
validated; expressions go through the expression parser; nothing is run.
Only with ``allow_code`` is the model offered a third kind of signal,
Python code (:class:`~alphaloop.research.draft.CodeSignal`), for ideas no
template or expression can say; the code is checked against the sandbox's
allowlist when the spec is made and runs only in the sandbox
(:mod:`alphaloop.sandbox`), in the lookahead scan and the backtest. A
grammar-bound local server is never offered code (its constrained schema has
templates only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from alphaloop.data import DatasetInfo
from alphaloop.errors import AlphaloopError
from alphaloop.research.draft import (
    CodeStrategyDraft,
    GeneratedSpec,
    StrategyDraft,
    draft_to_spec,
)
from alphaloop.research.draft_schema import constrained_draft_schema
from alphaloop.research.intent import parse_intent
from alphaloop.research.templates import FAMILIES

__all__ = ["DraftSource", "draft_schema", "llm_settings_from_env", "make_draft", "two_step"]


@dataclass(frozen=True)
class DraftSource:
    """Who wrote the draft.

    ``origin`` is ``llm`` or ``offline``; ``reason`` says why the offline
    parser was used (no model configured, ``--offline``, or the model's
    failure after its repair round); ``model`` and ``account`` (calls,
    tokens, cost) describe the model when one was asked.
    """

    origin: Literal["llm", "offline"]
    reason: str | None = None
    model: str | None = None
    knowledge_cutoff: str | None = None
    account: dict[str, Any] = field(default_factory=dict)

    @property
    def fell_back(self) -> bool:
        """Whether a model was asked and its answer was not used."""
        return self.origin == "offline" and self.model is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "fell_back": self.fell_back,
            "reason": self.reason,
            "model": self.model,
            "knowledge_cutoff": self.knowledge_cutoff,
            "account": self.account,
        }


def llm_settings_from_env(environ: Mapping[str, str] | None = None) -> Any:
    """:class:`~alphaloop.llm.LLMSettings` when any ``ALPHALOOP_LLM_*`` variable is set, else None.

    Raises
    ------
    LLMConfigError
        The variables are set but invalid.
    """
    env = os.environ if environ is None else environ
    if not any(k.startswith("ALPHALOOP_LLM_") and v for k, v in env.items()):
        return None
    from pydantic import ValidationError

    from alphaloop.llm import LLMConfigError, LLMSettings

    try:
        return LLMSettings()
    except ValidationError as exc:
        fields = ", ".join(
            "ALPHALOOP_LLM_" + str(e["loc"][0]).upper()
            for e in exc.errors(include_input=False)
            if e["loc"]
        )
        raise LLMConfigError(
            f"invalid language-model settings: {fields or 'see the docs'}"
        ) from None


def _catalogue() -> str:
    lines = []
    for family, templates in FAMILIES.items():
        items = []
        for tpl in templates:
            params = ", ".join(f"{p} (e.g. {v[len(v) // 2]})" for p, v in tpl.grid)
            items.append(f"{tpl.name}[{params}]")
        lines.append(f"- {family}: " + "; ".join(items))
    return "\n".join(lines)


CODE_RULES = (
    "\nOnly when neither a template nor an expression can say the idea, the signal may be "
    'Python code: {"kind": "code", "code": "..."} defining '
    "def signal(close, high=None, low=None, volume=None, open=None) that takes float64 numpy "
    "arrays of shape (time, asset) (oldest row first, NaN = missing) and returns one array "
    "of the same shape, higher = more attractive, NaN = no signal. Row t may use rows <= t "
    "only (never np.roll(x, -1), a centred window, or a full-sample mean). Use np (numpy) and "
    "math only: no other import, no files, no classes, no names starting with _. The code "
    "runs in a sandbox and is checked for lookahead."
)
"""What the model is told about code signals when they are allowed."""


def prompt_messages(
    intent: str, info: DatasetInfo, *, allow_code: bool = False
) -> list[dict[str, str]]:
    """The conversation sent to the model: rules, templates, the dataset's names, the idea.

    With ``allow_code`` the rules add the code-signal contract (:data:`CODE_RULES`).
    """
    system = (
        "You turn a trading-strategy idea into a StrategyDraft: one JSON object that matches "
        "the schema. The signal is either a known template (family, template and its "
        "integer parameters in bars; leave the others null) or a factor expression in the "
        "Qlib-style language ($close, $open, ... fields; Ref, Mean, Std, EMA, Max, Min, Corr, "
        "Rank, CsRank ...), oriented so that a higher value is more attractive unless "
        "higher_is_better is false. Never refer to future data. side long_only uses top_k "
        "(k assets); long_short uses quantile_long_short. List in assumptions every choice "
        "you made that the idea did not state.\nTemplates:\n" + _catalogue()
    )
    if allow_code:
        system += CODE_RULES
    data = {
        "dataset": info.name,
        "frequency": info.frequency,
        "fields": list(info.fields),
        "assets": list(info.asset_ids)[:200],
        "n_assets": info.assets,
    }
    user = f"Idea: {intent}\nData: {json.dumps(data)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def two_step(settings: Any) -> bool:
    """Whether drafts are asked value by value (a grammar-bound local server).

    With ``json_mode`` ``json_object_schema`` (llama-cpp-python) the draft is
    asked as :func:`~alphaloop.research.draft_local.ask_local_draft` does: key by
    key over plain completions with a grammar; code fills the rest.
    """
    return getattr(settings, "json_mode", None) == "json_object_schema"


def draft_schema(settings: Any, info: DatasetInfo) -> dict[str, Any] | None:
    """The schema sent for a draft: the constrained rendering for a grammar-bound server.

    With ``json_mode`` ``json_object_schema`` (llama-cpp-python, whose grammar
    ignores numeric bounds) the draft's
    :func:`~alphaloop.research.draft_schema.constrained_draft_schema` for the
    dataset's fields; otherwise None (the portable schema, which hosted
    providers' strict modes accept).
    """
    if getattr(settings, "json_mode", None) != "json_object_schema":
        return None
    return constrained_draft_schema(info.fields)


def _convert(
    draft: StrategyDraft, info: DatasetInfo, intent: str, allow_code: bool = False
) -> GeneratedSpec:
    return draft_to_spec(
        draft,
        info.name,
        fields=info.fields,
        assets=info.asset_ids,
        intent=intent,
        allow_code=allow_code,
    )


def make_draft(
    intent: str,
    info: DatasetInfo,
    *,
    settings: Any = None,
    offline: bool = False,
    seed: int = 0,
    client: Any = None,
    allow_code: bool = False,
) -> tuple[GeneratedSpec, DraftSource]:
    """The spec for ``intent`` on the dataset ``info`` describes, and who drafted it.

    Parameters
    ----------
    intent : str
        The idea in plain words.
    info : DatasetInfo
        The dataset (its name, fields and assets; no values are read).
    settings : LLMSettings, optional
        The model to ask; None: the offline parser.
    offline : bool
        Use the offline parser even when a model is configured.
    seed : int
        Sent with the request (providers that honour it answer repeatably).
    client : LLMClient, optional
        A client to use instead of one made from ``settings`` (its cache applies).
    allow_code : bool
        Offer the model a Python code signal (:class:`~alphaloop.research.draft.CodeSignal`);
        code it writes otherwise is refused (and the offline parser drafts).

    Raises
    ------
    IntentError
        The offline parser was needed and cannot read the idea.
    DraftError
        The offline draft does not make a spec on this dataset.
    """
    if offline or (settings is None and client is None):
        why = "--offline was given" if offline else "no language model is configured"
        return _convert(parse_intent(intent), info, intent), DraftSource("offline", why)
    from alphaloop.llm import LLMClient, LLMError, ask_structured

    own = client is None
    llm = LLMClient(settings) if own else client
    cutoff = llm.settings.knowledge_cutoff
    source = {"model": llm.settings.model, "knowledge_cutoff": cutoff and cutoff.isoformat()}
    problem: str
    try:
        if two_step(llm.settings):
            from alphaloop.research import ask_local_draft

            draft = ask_local_draft(llm, intent, info.fields, seed=seed)
        else:
            draft = ask_structured(
                llm,
                prompt_messages(intent, info, allow_code=allow_code),
                CodeStrategyDraft if allow_code else StrategyDraft,
                seed=seed,
            )
        made = _convert(draft, info, intent, allow_code)
        return made, DraftSource("llm", account=llm.account.to_dict(), **source)
    except LLMError as exc:
        problem = f"the model failed ({type(exc).__name__}: {exc.message})"
    except AlphaloopError as exc:  # a valid draft that makes no spec on this data
        problem = f"the model's draft does not fit the data ({exc.message})"
    finally:
        if own:
            llm.close()
    made = _convert(parse_intent(intent), info, intent)
    reason = f"{problem}; fell back to the offline parser"
    return made, DraftSource("offline", reason, account=llm.account.to_dict(), **source)
