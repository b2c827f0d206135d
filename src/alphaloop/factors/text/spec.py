"""Text factor definitions: what a document's score is, and how scores become a factor.

A text factor turns the documents about an asset into a number per bar:

- ``similarity``: a document's score is its mean cosine similarity to the
  ``references`` phrases (e.g. "guidance raised", "share buyback").
- ``sentiment``: mean cosine similarity to the ``positive`` phrases minus
  the mean to the ``negative`` ones (finance defaults given).
- ``pca``: the document's coordinate on one principal component
  (``component``, 0-based) of the document embeddings available before the
  fit end (see :func:`~alphaloop.factors.text.compute.text_factor_values`).

Every factor is point in time: a document counts from ``published_at +
latency`` on, weighted ``0.5 ** (age / half_life)``, and drops out after
``max_age``. Durations are pandas strings: ``"15min"``, ``"1h"``, ``"3D"``.

A definition is a YAML file in the workspace, ``text_factors/NAME.yaml``::

    name: tone
    kind: sentiment
    latency: 15min
    half_life: 3D
    max_age: 30D
"""

from __future__ import annotations

import re
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from alphaloop.errors import SpecError
from alphaloop.specfile import describe_validation_error

__all__ = [
    "DEFAULT_NEGATIVE",
    "DEFAULT_POSITIVE",
    "TEXT_FACTOR_KINDS",
    "TextFactorSpec",
    "parse_duration",
]

TEXT_FACTOR_KINDS = ("similarity", "pca", "sentiment")

DEFAULT_POSITIVE: tuple[str, ...] = (
    "earnings beat expectations",
    "revenue growth accelerated",
    "the company raised its guidance",
    "record profit and strong demand",
    "upgraded to buy",
    "shares rallied after the announcement",
)
"""Phrases of good news (sentiment factors without their own ``positive`` list)."""

DEFAULT_NEGATIVE: tuple[str, ...] = (
    "earnings missed expectations",
    "revenue declined",
    "the company cut its guidance",
    "losses widened and demand weakened",
    "downgraded to sell",
    "shares plunged after the announcement",
)
"""Phrases of bad news (sentiment factors without their own ``negative`` list)."""

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def parse_duration(value: str, what: str) -> pd.Timedelta:
    """A pandas duration string (``"15min"``, ``"3D"``) as a Timedelta; ValueError if not one."""
    try:
        delta = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{what} {value!r} is not a duration; use e.g. '15min', '1h', '3D'"
        ) from None
    if pd.isna(delta):
        raise ValueError(f"{what} {value!r} is not a duration; use e.g. '15min', '1h', '3D'")
    return delta


class TextFactorSpec(BaseModel):
    """A text factor: document scoring (``kind``) and point-in-time aggregation.

    Parameters
    ----------
    name : str
        Lower-case letters, digits, ``_`` and ``-``, starting with a letter;
        ``Text("name")`` in an expression reads it.
    kind : {"similarity", "pca", "sentiment"}
    description : str, optional
    references : tuple of str
        Phrases a ``similarity`` factor compares documents with (required there,
        refused elsewhere).
    component : int, default 0
        The principal component of a ``pca`` factor, 0-based (0 = most variance).
    positive, negative : tuple of str
        Phrases of a ``sentiment`` factor (default: :data:`DEFAULT_POSITIVE`,
        :data:`DEFAULT_NEGATIVE`).
    latency : str, default "1min"
        Delay between publication and the document being usable (>= 0).
    half_life : str or None, default "3D"
        Age at which a document's weight halves; None weighs all documents equally.
    max_age : str or None, default "30D"
        Documents older than this (age > max_age) drop out; None keeps them all.
    sources, kinds : tuple of str
        Only documents of these sources / kinds count (empty: all).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["similarity", "pca", "sentiment"]
    description: str = ""
    references: tuple[str, ...] = ()
    component: int = 0
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    latency: str = "1min"
    half_life: str | None = "3D"
    max_age: str | None = "30D"
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"{v!r} is not a text factor name: use lower-case letters, digits, '_' and "
                "'-', starting with a letter (at most 64 characters)"
            )
        return v

    @field_validator("latency")
    @classmethod
    def _check_latency(cls, v: str) -> str:
        if parse_duration(v, "latency") < pd.Timedelta(0):
            raise ValueError(f"latency {v!r} is negative; a document cannot be read early")
        return v

    @field_validator("half_life", "max_age")
    @classmethod
    def _check_positive(cls, v: str | None, info: Any) -> str | None:
        if v is not None and parse_duration(v, info.field_name) <= pd.Timedelta(0):
            raise ValueError(f"{info.field_name} {v!r} must be positive")
        return v

    @field_validator("references", "positive", "negative")
    @classmethod
    def _check_phrases(cls, v: tuple[str, ...], info: Any) -> tuple[str, ...]:
        if any(not p.strip() for p in v):
            raise ValueError(f"{info.field_name} holds an empty phrase")
        return v

    @model_validator(mode="after")
    def _check_kind_fields(self) -> TextFactorSpec:
        if self.component < 0:
            raise ValueError(f"component must be 0 or more, got {self.component}")
        if self.kind == "similarity" and not self.references:
            raise ValueError("a similarity factor needs references (phrases to compare with)")
        if self.kind != "similarity" and self.references:
            raise ValueError(f"references apply to similarity factors, not {self.kind}")
        if self.kind != "sentiment" and (self.positive or self.negative):
            raise ValueError(f"positive/negative apply to sentiment factors, not {self.kind}")
        if self.kind != "pca" and self.component:
            raise ValueError(f"component applies to pca factors, not {self.kind}")
        return self

    # ------------------------------------------------------------------ durations
    @property
    def latency_delta(self) -> pd.Timedelta:
        return parse_duration(self.latency, "latency")

    @property
    def half_life_delta(self) -> pd.Timedelta | None:
        return None if self.half_life is None else parse_duration(self.half_life, "half_life")

    @property
    def max_age_delta(self) -> pd.Timedelta | None:
        return None if self.max_age is None else parse_duration(self.max_age, "max_age")

    @property
    def positive_phrases(self) -> tuple[str, ...]:
        """The positive phrases in force (the defaults when none are given)."""
        return self.positive or DEFAULT_POSITIVE

    @property
    def negative_phrases(self) -> tuple[str, ...]:
        """The negative phrases in force (the defaults when none are given)."""
        return self.negative or DEFAULT_NEGATIVE

    def phrases(self) -> tuple[str, ...]:
        """Every phrase the factor embeds (references, or positive then negative)."""
        if self.kind == "similarity":
            return self.references
        if self.kind == "sentiment":
            return (*self.positive_phrases, *self.negative_phrases)
        return ()

    # ------------------------------------------------------------------ io
    @classmethod
    def from_dict(cls, data: Any, *, source: str = "text factor") -> TextFactorSpec:
        """Validate a mapping; errors become one :class:`SpecError` naming each bad field."""
        if not isinstance(data, dict):
            raise SpecError(f"{source}: a text factor must be a mapping of fields")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(f"{source}: {describe_validation_error(exc, cls)}") from None

    def to_dict(self) -> dict[str, Any]:
        """The fields, phrase lists as lists; unset defaults included."""
        return self.model_dump(mode="json")
