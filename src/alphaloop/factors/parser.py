"""A recursive-descent parser from text to an expression tree (no ``eval``).

Grammar, lowest precedence first (Python's order, as Qlib formulas are
Python expressions; a chained comparison such as ``a < b < c`` is refused)::

    expr       := or_expr [ ("<" | "<=" | ">" | ">=" | "==" | "!=") or_expr ]
    or_expr    := and_expr { "|" and_expr }
    and_expr   := sum { "&" sum }
    sum        := product { ("+" | "-") product }
    product    := unary { ("*" | "/") unary }
    unary      := ("-" | "+" | "~") unary | primary
    primary    := NUMBER | FIELD | STRING | NAME "(" [ expr { "," expr } ] ")" | "(" expr ")"

A STRING (a quoted name) is only an argument of ``Text`` or ``Factor``.
``Factor("library/name")`` is replaced by the referenced factor's tree (see
:mod:`alphaloop.factors.references`); the nodes of the replacement carry the
reference's span, so an error inside it points at the reference.

Calls are checked against :mod:`alphaloop.factors.operators` as they are
parsed: unknown operators (with a suggestion), wrong number of arguments,
and literal arguments (windows, lags, quantiles) of the wrong kind, each
with the position in the text. Fields and lookahead are checked later,
against a dataset, by :func:`alphaloop.factors.validate.validate`.
"""

from __future__ import annotations

import difflib

from alphaloop.errors import ExpressionError
from alphaloop.factors.ast import Call, Const, Field, Node, Span, Str
from alphaloop.factors.lexer import Token, tokenize
from alphaloop.factors.operators import (
    ALIASES,
    BINARY_SYMBOLS,
    OPERATORS,
    UNARY_SYMBOLS,
    OpSpec,
    resolve,
)
from alphaloop.factors.references import lookup_reference

__all__ = ["MAX_DEPTH", "parse"]

MAX_DEPTH = 64
_COMPARISONS = {">", ">=", "<", "<=", "==", "!="}


def parse(text: str) -> Node:
    """Parse ``text`` into an expression tree.

    Raises
    ------
    ExpressionError
        With the position of the problem in ``text``.
    """
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str, expanding: tuple[str, ...] = ()) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.expanding = expanding  # library references being expanded (cycle check)

    # ---------------------------------------------------------------- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, pos: int, hint: str | None = None) -> ExpressionError:
        return ExpressionError(message, self.text, pos, hint=hint)

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            found = "the end of the expression" if self.tok.kind == "END" else repr(self.tok.text)
            raise self.error(f"expected {what}, found {found}", self.tok.pos)
        return self.advance()

    # ------------------------------------------------------------------ rules
    def parse(self) -> Node:
        node = self.expr()
        if isinstance(node, Call) and node.op == "Group":
            raise self.error(
                "Group(...) is only allowed as a target of CsNeutralize", node.span.start
            )
        if isinstance(node, Str):
            raise self.error(
                "a quoted name is not an expression",
                node.span.start,
                hint='quoted names are arguments of Text("...") and Factor("...")',
            )
        if self.tok.kind != "END":
            if self.tok.kind == "RPAREN":
                raise self.error("unbalanced ')': no '(' to close", self.tok.pos)
            raise self.error(
                f"unexpected {self.tok.text!r} after a complete expression",
                self.tok.pos,
                hint="is an operator or a comma missing?",
            )
        return node

    def expr(self) -> Node:
        left = self.or_expr()
        if self.tok.kind == "OP" and self.tok.text in _COMPARISONS:
            op = self.advance()
            right = self.or_expr()
            if self.tok.kind == "OP" and self.tok.text in _COMPARISONS:
                raise self.error(
                    "chained comparison", self.tok.pos, hint="add parentheses: (a < b) & (b < c)"
                )
            left = self.binary(op, left, right)
        return left

    def or_expr(self) -> Node:
        left = self.and_expr()
        while self.tok.kind == "OP" and self.tok.text == "|":
            op = self.advance()
            left = self.binary(op, left, self.and_expr())
        return left

    def and_expr(self) -> Node:
        left = self.sum()
        while self.tok.kind == "OP" and self.tok.text == "&":
            op = self.advance()
            left = self.binary(op, left, self.sum())
        return left

    def sum(self) -> Node:
        left = self.product()
        while self.tok.kind == "OP" and self.tok.text in "+-":
            op = self.advance()
            left = self.binary(op, left, self.product())
        return left

    def product(self) -> Node:
        left = self.unary()
        while self.tok.kind == "OP" and self.tok.text in "*/":
            op = self.advance()
            left = self.binary(op, left, self.unary())
        return left

    def unary(self) -> Node:
        if self.tok.kind == "OP" and self.tok.text in ("-", "+", "~"):
            op = self.advance()
            self.enter(op.pos)
            operand = self.unary()
            self.depth -= 1
            span = Span(op.pos, operand.span.end)
            if op.text == "+":
                return operand
            if isinstance(operand, Str):
                raise self.error(f"a quoted name cannot be an operand of {op.text!r}", op.pos)
            if op.text == "-" and isinstance(operand, Const):
                return Const(-operand.value, span=span)
            return Call(UNARY_SYMBOLS[op.text], (operand,), span=span)
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            return Const(float(tok.text), span=Span(tok.pos, tok.pos + len(tok.text)))
        if tok.kind == "FIELD":
            self.advance()
            return Field(tok.text[1:].lower(), span=Span(tok.pos, tok.pos + len(tok.text)))
        if tok.kind == "STRING":
            self.advance()
            return Str(tok.text[1:-1], span=Span(tok.pos, tok.pos + len(tok.text)))
        if tok.kind == "NAME":
            return self.call()
        if tok.kind == "LPAREN":
            self.advance()
            self.enter(tok.pos)
            node = self.expr()
            self.depth -= 1
            if self.tok.kind != "RPAREN":
                found = "the end" if self.tok.kind == "END" else repr(self.tok.text)
                raise self.error(f"unbalanced '(': expected ')' but found {found}", tok.pos)
            self.advance()
            return node
        if tok.kind == "END":
            raise self.error("the expression ends where a value was expected", tok.pos)
        if tok.kind == "RPAREN":
            raise self.error("unexpected ')' where a value was expected", tok.pos)
        raise self.error(f"unexpected {tok.text!r} where a value was expected", tok.pos)

    def call(self) -> Node:
        name = self.advance()
        spec = resolve(name.text)
        if self.tok.kind != "LPAREN":
            if spec is not None:
                raise self.error(
                    f"{name.text} is an operator; call it as {spec.signature}", name.pos
                )
            raise self.error(
                f"unknown name {name.text!r}",
                name.pos,
                hint="fields start with '$', e.g. $close",
            )
        if spec is None:
            raise self.error(f"unknown operator {name.text!r}", name.pos, hint=_suggest(name.text))
        open_paren = self.advance()
        self.enter(open_paren.pos)
        args: list[Node] = []
        if self.tok.kind != "RPAREN":
            args.append(self.expr())
            while self.tok.kind == "COMMA":
                self.advance()
                args.append(self.expr())
        self.depth -= 1
        if self.tok.kind != "RPAREN":
            if self.tok.kind == "END":
                raise self.error(f"unbalanced '(' of {name.text}: missing ')'", open_paren.pos)
            raise self.error(
                f"expected ',' or ')' in the arguments of {name.text}, found {self.tok.text!r}",
                self.tok.pos,
            )
        close = self.advance()
        node = Call(spec.name, tuple(args), span=Span(name.pos, close.pos + 1))
        self.check_args(spec, node, name)
        if spec.name == "Factor":
            return self.expand(node)
        return node

    def expand(self, node: Call) -> Node:
        """The referenced library factor's tree, in place of ``Factor("...")``."""
        arg = node.args[0]
        assert isinstance(arg, Str)
        ref = arg.value
        if ref in self.expanding:
            chain = " -> ".join([*self.expanding, ref])
            raise self.error(
                f"library factors refer to each other in a cycle: {chain}", node.span.start
            )
        try:
            text = lookup_reference(ref)
        except ExpressionError as exc:
            raise self.error(exc.message, node.span.start, exc.hint) from None
        try:
            tree = _Parser(text, (*self.expanding, ref)).parse()
        except ExpressionError as exc:
            first = exc.message.splitlines()[0]
            raise self.error(f"in Factor({ref!r}): {first}", node.span.start, exc.hint) from None
        return _respan(tree, node.span)

    # ------------------------------------------------------------- validation
    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the expression is nested more than {MAX_DEPTH} levels deep", pos)

    def binary(self, op: Token, left: Node, right: Node) -> Node:
        for side in (left, right):
            if isinstance(side, Str):
                raise self.error(
                    f"a quoted name cannot be an operand of {op.text!r}",
                    side.span.start,
                    hint='quoted names are arguments of Text("...") and Factor("...")',
                )
        return Call(
            BINARY_SYMBOLS[op.text], (left, right), span=Span(left.span.start, right.span.end)
        )

    def check_args(self, spec: OpSpec, node: Call, name: Token) -> None:
        n = len(node.args)
        fixed = len(spec.params)
        ok = n >= fixed if spec.variadic else n == fixed
        if not ok:
            want = f"at least {fixed}" if spec.variadic else str(fixed)
            raise self.error(
                f"{name.text} takes {want} argument{'s' if fixed != 1 else ''} "
                f"{spec.signature}, got {n}",
                name.pos,
            )
        for k, arg in enumerate(node.args):
            kind = spec.params[min(k, fixed - 1)]
            self.check_literal(spec, kind, arg)

    def check_literal(self, spec: OpSpec, kind: str, arg: Node) -> None:
        pos = arg.span.start
        if kind == "name":
            if not isinstance(arg, Str):
                raise self.error(
                    f'the argument of {spec.name} is a quoted name, e.g. {spec.name}("name")', pos
                )
            if not arg.value.strip():
                raise self.error(f"the name in {spec.name}(...) is empty", pos)
            return
        if isinstance(arg, Str):
            raise self.error(
                f"a quoted name is not a value here: {spec.name} takes {spec.signature}",
                pos,
                hint='quoted names are arguments of Text("...") and Factor("...")',
            )
        if kind == "expr":
            if isinstance(arg, Call) and arg.op == "Group":
                raise self.error("Group(...) is only allowed as a target of CsNeutralize", pos)
            return
        if kind == "by":
            return
        if not isinstance(arg, Const):
            raise self.error(
                f"the {_kind_name(kind)} of {spec.name} must be a number written in the "
                f"expression, not {str(arg)[:40]!r}",
                pos,
            )
        v = arg.value
        if kind == "window":
            if not float(v).is_integer():
                raise self.error(
                    f"the window of {spec.name} must be a whole number, got {v:g}", pos
                )
            if v <= 0:
                raise self.error(
                    f"the window of {spec.name} must be positive, got {v:g}",
                    pos,
                    hint="a window counts bars back from the current one, which it includes",
                )
            if v < spec.min_window:
                raise self.error(
                    f"the window of {spec.name} must be at least {spec.min_window}, got {v:g}",
                    pos,
                )
        elif kind == "lag":
            if not float(v).is_integer():
                raise self.error(f"the lag of {spec.name} must be a whole number, got {v:g}", pos)
            if v == 0:
                raise self.error(
                    f"{spec.name}(x, 0) is x itself",
                    pos,
                    hint="Qlib's Ref(x, 0) (the series' first value) is not supported",
                )
        elif kind == "quantile":
            if not 0.0 <= v <= 1.0:
                raise self.error(f"the quantile of {spec.name} must be in [0, 1], got {v:g}", pos)
        elif kind == "span" and not (0.0 < v < 1.0 or (float(v).is_integer() and v >= 1)):
            raise self.error(
                f"the span of {spec.name} must be a whole number >= 1 "
                f"(or an alpha in (0, 1)), got {v:g}",
                pos,
            )


def _respan(tree: Node, span: Span) -> Node:
    """``tree`` rebuilt with every node's span set to ``span`` (iterative)."""
    built: dict[int, Node] = {}
    for n in reversed(tree.walk()):
        if isinstance(n, Call):
            built[id(n)] = Call(n.op, tuple(built[id(a)] for a in n.args), span=span)
        elif isinstance(n, Field):
            built[id(n)] = Field(n.name, span=span)
        elif isinstance(n, Const):
            built[id(n)] = Const(n.value, span=span)
        elif isinstance(n, Str):
            built[id(n)] = Str(n.value, span=span)
    return built[id(tree)]


def _kind_name(kind: str) -> str:
    return {"window": "window", "lag": "lag", "quantile": "quantile", "span": "span"}[kind]


def _suggest(name: str) -> str:
    names = list(OPERATORS) + list(ALIASES)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    lower = [n for n in names if n.lower() == name.lower()]
    if lower:
        return f"operator names are case-sensitive: did you mean {lower[0]}?"
    if close:
        return f"did you mean {' or '.join(close)}?"
    return "see `alphaloop factor operators` for the list"
