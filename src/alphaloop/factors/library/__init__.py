"""Named factor libraries: built-in (Alpha158, Alpha360 and their close-only subsets)
and user libraries written in YAML.

A user library file::

    name: my-momentum
    description: momentum and reversal at a few horizons
    factors:
      MOM20: Ref($close, 1) / Ref($close, 21) - 1
      REV5: -($close / Ref($close, 5) - 1)

Every formula is parsed when the file is loaded; a bad one fails naming the
factor, the file and the position in the formula. Adding a library to a
workspace also refuses factors that read the future.

:func:`resolve_factor_source` tells a library's name from an expression;
:func:`select_factors` keeps the factors a dataset has the fields for and
lists the others.
"""

from alphaloop.factors.library.registry import (
    BUILTIN,
    FactorLibrary,
    check_no_lookahead,
    get_library,
    list_libraries,
    load_library_file,
    save_library,
)
from alphaloop.factors.library.resolve import (
    FactorSource,
    UnknownLibraryError,
    resolve_factor_source,
)
from alphaloop.factors.library.select import (
    FIELD_PROXIES,
    FactorSelection,
    FieldProxy,
    select_factors,
)

__all__ = [
    "BUILTIN",
    "FIELD_PROXIES",
    "FactorLibrary",
    "FactorSelection",
    "FactorSource",
    "FieldProxy",
    "UnknownLibraryError",
    "check_no_lookahead",
    "get_library",
    "list_libraries",
    "load_library_file",
    "resolve_factor_source",
    "save_library",
    "select_factors",
]
