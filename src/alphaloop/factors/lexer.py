"""Tokens of the expression language.

========  ==============================================  =====================
kind      text                                            example
========  ==============================================  =====================
NUMBER    decimal integer or float, optional exponent     ``5``, ``0.5``, ``1e-3``
FIELD     ``$`` followed by a name                        ``$close``
NAME      an operator name                                ``Mean``
STRING    text in double or single quotes (no escapes)    ``"earnings_tone"``
OP        ``+ - * / > < >= <= == != & | ~``               ``>=``
LPAREN    ``(``
RPAREN    ``)``
COMMA     ``,``
END       end of text
========  ==============================================  =====================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alphaloop.errors import ExpressionError

__all__ = ["MAX_LENGTH", "Token", "tokenize"]

MAX_LENGTH = 20_000

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<field>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>"[^"\n]*"|'[^'\n]*')
  | (?P<op>>=|<=|==|!=|\*\*|[-+*/<>&|~])
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """One token with its kind, text and 0-based start offset."""

    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``END`` token.

    Raises
    ------
    ExpressionError
        On an empty or too long text, or a character that starts no token.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}",
            hint="split it into named parts in a factor library",
        )
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = None
            if ch == "$":
                hint = "a field is '$' followed by a name, e.g. $close"
            elif ch in "[]{}":
                hint = "use parentheses ( ) for grouping and calls"
            elif ch == "=":
                hint = "use == to compare"
            elif ch in "\"'":
                hint = "a quoted name ends with the same quote on the same line"
            raise ExpressionError(f"unexpected character {ch!r}", text, pos, hint=hint)
        kind = m.lastgroup or ""
        if kind != "space":
            if kind == "op" and m.group() == "**":
                raise ExpressionError(
                    "'**' is not an operator here", text, pos, hint="use Power(x, e)"
                )
            tokens.append(Token(kind.upper(), m.group(), pos))
        pos = m.end()
    tokens.append(Token("END", "", len(text)))
    return tokens
