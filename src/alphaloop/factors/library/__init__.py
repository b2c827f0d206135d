"""Named factor libraries: built-in (Alpha158, Alpha360 and their close-only subsets)
and user libraries written in YAML.

A user library file::

    name: my-momentum
    description: momentum and reversal at a few horizons
    factors:
      MOM20: Ref($close, 1) / Ref($close, 21) - 1
      REV5: -($close / Ref($close, 5) - 1)

Every formula is parsed when the file is loaded; a bad one fails naming the
factor, the file and the position in the formula.
"""

from alphaloop.factors.library.registry import (
    BUILTIN,
    FactorLibrary,
    get_library,
    list_libraries,
    load_library_file,
    save_library,
)

__all__ = [
    "BUILTIN",
    "FactorLibrary",
    "get_library",
    "list_libraries",
    "load_library_file",
    "save_library",
]
