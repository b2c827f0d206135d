"""Typed exceptions with messages that say what was wrong, where, and what to do.

Every error the user can cause derives from :class:`AlphaloopError`. The CLI
prints ``str(error)`` on one line (plus the hint) and exits with
``error.exit_code``; ``--debug`` adds the traceback.
"""

from __future__ import annotations


class AlphaloopError(Exception):
    """Base class for errors caused by input, configuration or environment.

    Parameters
    ----------
    message : str
        What went wrong and where.
    hint : str, optional
        What the user can do about it.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(AlphaloopError):
    """A setting or workspace path is invalid."""


class StoreError(AlphaloopError):
    """The database cannot be opened, migrated or written."""


class DatasetNotFoundError(AlphaloopError):
    """No dataset of that name exists in the workspace."""


class DatasetExistsError(AlphaloopError):
    """A dataset of that name exists and the action would overwrite it."""


class DataReadError(AlphaloopError):
    """A data file cannot be read at all (missing, empty, wrong encoding, no columns).

    ``data check`` exits with code 2 for these.
    """

    exit_code = 2


class DataFormatError(AlphaloopError):
    """A data file was read but its layout is not one alphaloop understands."""

    exit_code = 2


class DataQualityError(AlphaloopError):
    """An import was refused because the quality checks found problems.

    Attributes
    ----------
    report : alphaloop.data.quality.QualityReport
        The full report; nothing was written to the store.
    """

    def __init__(self, message: str, report: object, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class PanelError(AlphaloopError):
    """A Panel was built or queried with inconsistent shapes, fields or assets."""


class ExpressionError(AlphaloopError):
    """A factor expression is malformed, refers to unknown names, or looks ahead.

    Attributes
    ----------
    text : str
        The expression.
    position : int or None
        0-based character offset of the problem in ``text``.
    """

    def __init__(
        self, message: str, text: str = "", position: int | None = None, *, hint: str | None = None
    ) -> None:
        self.text = text
        self.position = position
        if text and position is not None:
            snippet, caret = _point_at(text, position)
            message = f"{message} at column {position + 1}:\n  {snippet}\n  {caret}"
        super().__init__(message, hint=hint)


def _point_at(text: str, position: int, width: int = 70) -> tuple[str, str]:
    """A window of ``text`` around ``position`` and a caret line under it."""
    start = max(0, position - width // 2)
    end = min(len(text), start + width)
    snippet = ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
    offset = position - start + (3 if start else 0)
    return snippet, " " * offset + "^"


class SpecError(ConfigError):
    """A strategy specification is invalid: names the field, the value and what is allowed."""


class BacktestError(AlphaloopError):
    """A backtest cannot run on these inputs (shapes, missing prices, cash, dates)."""


class HoldoutError(AlphaloopError):
    """The sealed holdout was asked for, reconfigured after use, or unsealed twice.

    Also raised when an import copies rows of a sealed holdout into a dataset
    whose own holdout cannot take them over (see :mod:`alphaloop.data.seal`).
    """


class HoldoutClippedWarning(UserWarning):
    """A request reached into a sealed holdout and was cut at its boundary.

    The message is one line naming the dataset, the requested end, the
    boundary and where the data returned ends, e.g. ``"sp500-stocks: end
    2022-12-28 is inside the sealed holdout (from 2016-05-03); data ends
    2016-05-02"``.
    """
