"""Typed exceptions with messages that say what was wrong, where, and what to do.

Every error the user can cause derives from :class:`AlphaloopError`. The CLI
prints ``str(error)`` on one line (plus the hint), or with ``--json`` the
document of :meth:`AlphaloopError.to_dict`, and exits with
``error.exit_code``; ``--debug`` adds the traceback.

Exit codes (one table for every command, :class:`ExitCode`):

====  =======================================================================
code  meaning
====  =======================================================================
0     success
1     a check or gate said no: ``validate`` failed a gate, ``lookahead``
      found a leak, ``data check`` found problems, an import was refused by
      the quality checks (:class:`DataQualityError`), ``model monitor``
      raised alerts, the sealed-holdout protocol refused (``HoldoutError``)
2     bad input or usage: an unknown command or option, a bad option value,
      spec, expression or file, an unknown dataset, run, model or library,
      inputs a backtest cannot run on; every :class:`AlphaloopError` not
      listed elsewhere
3     the workspace or its storage: no workspace there, a read-only
      workspace asked to record something, invalid ``ALPHALOOP_*`` settings,
      a database that cannot be reached or migrated, a model artifact
      modified on disk (:class:`WorkspaceError`, :class:`StoreError`)
70    internal error: a bug (run again with ``--debug`` and report it)
130   interrupted (Ctrl-C); what was recorded as interrupted is said
141   the reader of the output went away (``alphaloop runs list | head``)
====  =======================================================================
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes of the ``alphaloop`` command (see the module table)."""

    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    WORKSPACE = 3
    INTERNAL = 70
    INTERRUPTED = 130
    BROKEN_PIPE = 141


class AlphaloopError(Exception):
    """Base class for errors caused by input, configuration or environment.

    Parameters
    ----------
    message : str
        What went wrong and where.
    hint : str, optional
        What the user can do about it.

    Attributes
    ----------
    exit_code : ExitCode
        The process exit code the CLI ends with (class attribute; see the
        module table). Default: bad input (2).
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``type``, ``message``, ``hint`` (or None), ``exit_code``."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "exit_code": int(self.exit_code),
        }


class UsageError(AlphaloopError):
    """A command was called wrongly: options missing or in conflict, a confirmation not given."""


_RECORDED_NOTE = "recorded as interrupted: "


def note_recorded_interruption(exc: BaseException, what: str) -> None:
    """Note on an interruption (:class:`KeyboardInterrupt`) that ``what`` was recorded
    as interrupted, e.g. ``"backtest run 12"``; the CLI tells the user."""
    exc.add_note(_RECORDED_NOTE + what)


def recorded_interruptions(exc: BaseException) -> tuple[str, ...]:
    """What :func:`note_recorded_interruption` noted on ``exc``, innermost first."""
    notes = getattr(exc, "__notes__", ())
    return tuple(n[len(_RECORDED_NOTE) :] for n in notes if n.startswith(_RECORDED_NOTE))


class WorkInterruptedError(AlphaloopError):
    """The work was interrupted (Ctrl-C).

    Attributes
    ----------
    recorded : tuple of str
        What was recorded as interrupted, e.g. ``"validate run 12"``; empty
        when the command records nothing.
    """

    exit_code = ExitCode.INTERRUPTED

    def __init__(
        self, message: str, *, recorded: tuple[str, ...] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.recorded = recorded

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "recorded": list(self.recorded)}


class ConfigError(AlphaloopError):
    """A setting, an option value or a spec is invalid (bad input)."""


class WorkspaceError(ConfigError):
    """The workspace cannot be used as asked: its directory or its settings (``ALPHALOOP_*``)."""

    exit_code = ExitCode.WORKSPACE


class WorkspaceNotFoundError(WorkspaceError):
    """No workspace exists at that path (commands that only read never create one)."""


class ReadOnlyWorkspaceError(WorkspaceError):
    """The workspace cannot be written, and the command needs to record something."""


class StoreError(AlphaloopError):
    """The database cannot be opened, migrated or written."""

    exit_code = ExitCode.WORKSPACE


class DatasetNotFoundError(AlphaloopError):
    """No dataset of that name exists in the workspace."""


class RunNotFoundError(AlphaloopError):
    """No recorded run has that id in the workspace."""


class StrategyNotFoundError(AlphaloopError):
    """No strategy in the strategy database has that hash (or hash prefix)."""


class AmbiguousStrategyError(StrategyNotFoundError):
    """A hash prefix matches more than one strategy; a longer prefix names one."""


class ResearchSessionNotFoundError(AlphaloopError):
    """No research session has that id in the workspace."""


class DatasetExistsError(AlphaloopError):
    """A dataset of that name exists and the action would overwrite it."""


class DataReadError(AlphaloopError):
    """A data file cannot be read at all (missing, empty, wrong encoding, no columns)."""


class DataCombineError(AlphaloopError):
    """Datasets cannot be combined as asked (overlap, names, fields or frequencies)."""


class DataResampleError(AlphaloopError):
    """A stored dataset cannot be resampled as asked (rule, name, seal or quality)."""


class DataFormatError(AlphaloopError):
    """A data file was read but its layout is not one alphaloop understands."""


class DataQualityError(AlphaloopError):
    """An import was refused because the quality checks found problems.

    Attributes
    ----------
    report : alphaloop.data.quality.QualityReport
        The full report; nothing was written to the store.
    """

    exit_code = ExitCode.CHECK_FAILED

    def __init__(self, message: str, report: object, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the quality ``report``."""
        to_dict = getattr(self.report, "to_dict", None)
        return {**super().to_dict(), "report": to_dict() if to_dict else None}


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


class GoalError(AlphaloopError):
    """A research goal cannot be satisfied on the dataset: says what and why.

    Raised for an empty goal, tickers the dataset does not hold, a long-short
    goal on fewer than four assets, a drawdown limit outside (0, 100%), a
    horizon shorter than the data's bar, or contradictory requests
    ("long-only market neutral"). Bad input: the CLI exits with 2.
    """

    exit_code = ExitCode.BAD_INPUT


class BacktestError(AlphaloopError):
    """A backtest cannot run on these inputs (shapes, missing prices, cash, dates)."""


class HoldoutError(AlphaloopError):
    """The sealed holdout was asked for, reconfigured after use, or unsealed twice.

    Also raised when an import copies rows of a sealed holdout into a dataset
    whose own holdout cannot take them over (see :mod:`alphaloop.data.seal`).
    The integrity protocol said no: the CLI exits with 1, as for a failed check.
    """

    exit_code = ExitCode.CHECK_FAILED


class HoldoutClippedWarning(UserWarning):
    """A request reached into a sealed holdout and was cut at its boundary.

    The message is one line naming the dataset, the requested end, the
    boundary and where the data returned ends, e.g. ``"sp500-stocks: end
    2022-12-28 is inside the sealed holdout (from 2016-05-03); data ends
    2016-05-02"``.
    """


class ResearchError(AlphaloopError):
    """A research session cannot start or go on: a budget of 0, a dataset too short for the
    walk-forward, an unknown model reference, a session that is not resumable."""


class MiningError(AlphaloopError):
    """A factor-mining run cannot start or go on: a grammar, budget or horizon that
    cannot produce a scored candidate, or a checkpoint that does not match its run."""


class MiningSessionNotFoundError(AlphaloopError):
    """No factor-mining session has the given id or key."""


class DocumentError(AlphaloopError):
    """Documents that cannot be imported or used: unparseable or future publication
    times, unknown assets, empty text, a malformed file."""


class DraftError(SpecError):
    """A strategy draft (the LLM-facing form of a spec) cannot become a spec: an unknown
    template or parameter, an expression that does not parse, a field the data lacks."""


class IntentError(AlphaloopError):
    """A natural-language strategy idea cannot be turned into a draft: an empty intent,
    or one in which the offline parser recognises no signal."""


class PaperError(AlphaloopError):
    """A paper-trading session cannot start or go on: an unknown or unavailable feed, a
    session that is finished or already running, a replay span that is empty."""


class PaperSessionNotFoundError(PaperError):
    """No paper-trading session has the given id."""


class ReconciliationError(PaperError):
    """A resumed paper session's record and its broker disagree in a way that cannot be
    repaired (a recorded fill the broker never made): it does not carry on."""

    exit_code = ExitCode.CHECK_FAILED


class SynthError(AlphaloopError):
    """Synthetic data cannot be made or used as asked: a generator fitted to too few
    returns, an unknown generator or parameter, a path count or length out of range,
    synthetic paths offered where real data is required."""


class GeneratorNotFoundError(SynthError):
    """No fitted generator of that name in the workspace."""


class DataSourceError(AlphaloopError):
    """An online data source cannot answer as asked: unknown source, symbol or interval,
    a request the vendor refuses, an answer that cannot be read, or every symbol failed."""


class SourceOfflineError(DataSourceError):
    """The source cannot be reached (or ``--offline`` was asked) and no cached answer
    covers the request."""


class AssetDataError(AlphaloopError):
    """Instrument metadata, futures contracts, FX rates, corporate actions or universe
    memberships that cannot be imported or used: a missing column, a bad value, an
    unknown asset class, overlapping membership spans, a roll with no next contract."""


class InstrumentNotFoundError(AssetDataError):
    """No instrument of that symbol is stored in the workspace."""
