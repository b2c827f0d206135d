"""alphaloop: autonomous quantitative research with numbers that survive scrutiny.

The public entry point is :class:`alphaloop.app.workspace.Workspace`; everything a
session does (datasets, runs, later strategies and models) hangs off one
explicit workspace object. There is no global state.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alphaloop")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
