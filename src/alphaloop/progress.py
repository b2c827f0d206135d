"""Progress of long work: one callback that domain and application code call.

Functions that take long (a factor library's analysis, model training, a
lookahead scan, a validation) accept ``progress=``: a callable called once
per unit of work as ``progress(step, done, total)``:

- ``step`` names the stage in words (``"analyzing factors"``); a new name
  starts a new stage;
- ``done`` counts the units finished in that stage (0 when it starts);
- ``total`` is the number of units the stage has, or None when unknown.

The default, :func:`no_progress`, does nothing, so library users and tests
pay nothing. The command line draws rich progress bars from these calls (on
a terminal only); anything else (a web page, a log) can do its own.

>>> seen = []
>>> def record(step, done, total=None):
...     seen.append((step, done, total))
>>> for _ in track(["a", "b"], "reading", record):
...     pass
>>> seen
[('reading', 0, 2), ('reading', 1, 2), ('reading', 2, 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Protocol, TypeVar

__all__ = ["Progress", "no_progress", "stage", "track"]

T = TypeVar("T")


class Progress(Protocol):
    """Called once per unit of work: ``progress(step, done, total)``."""

    def __call__(self, step: str, done: int, total: int | None = None) -> None: ...


def no_progress(step: str, done: int, total: int | None = None) -> None:
    """The default progress callback: report nothing."""


def stage(progress: Progress | None, step: str) -> Callable[[int, int | None], None]:
    """A ``(done, total)`` callback for one stage, for APIs that take that form."""
    report = progress or no_progress

    def call(done: int, total: int | None = None) -> None:
        report(step, done, total)

    return call


def track(items: Iterable[T], step: str, progress: Progress | None) -> Iterator[T]:
    """Yield ``items``, reporting ``step`` before the first and after each one."""
    report = progress or no_progress
    total = len(items) if isinstance(items, Sized) else None
    report(step, 0, total)
    for done, item in enumerate(items, start=1):
        yield item
        report(step, done, total)
