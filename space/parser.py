"""Our own grammar for activation functions; text never reaches eval or sympify.

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := "-" unary | atom
    atom  := NUMBER | "x" | "beta" | "alpha" | NAME "(" expr ("," expr)* ")" | "(" expr ")"
    NUMBER := [0-9]+ ("." [0-9]*)? | "." [0-9]+, then optionally [eE] [+-]? [0-9]+
    NAME  := [A-Za-z_] [A-Za-z0-9_]*

Names are the primitives of ``space.operators``, the paper's search ops (as
macros, e.g. ``sigmoid_mul(a, b)``), the named baselines (``prelu``, ``gelu``,
...) and a few aliases (``relu``). ``alpha`` is PReLU's trainable slope. ``/`` is
the guarded division x1 / (x2 + eps). The Unicode spellings ``β``, ``α``, ``·``,
``×`` and ``−`` are accepted. Numbers are written with the ASCII digits 0-9
only: other Unicode digits (``٣``, ``𝟙``, ``²``) are not numbers here, though
Python's ``float`` would read some of them. Errors name the problem and its
1-based column.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass

from space.expression import ALPHA, BETA, Call, Const, Expression, Node, X, depth, size
from space.operators import PRIMITIVES, callable_names, search_op

MAX_LENGTH = 2000  # characters of text
MAX_DEPTH = 64  # nesting of parentheses, calls and prefix minus
MAX_NODES = 500  # nodes of the resulting tree, after macro expansion

_UNICODE = {"β": "beta", "α": "alpha", "·": "*", "×": "*", "−": "-"}
_LEAVES = {"x": X, "beta": BETA, "alpha": ALPHA}
NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # the grammar's NUMBER: ASCII
#   digits only (reward tables read their cells with this rule too, see evaluator.table)
_TOKEN = re.compile(
    rf"\s*(?:(?P<number>{NUMBER})"
    r"|(?P<name>[βα]|[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),·×−]))"
)


class ParseError(ValueError):
    """Text that is not an expression of our grammar; ``column`` is 1-based."""

    def __init__(self, message: str, column: int, hint: str = "") -> None:
        super().__init__(f"{message} at column {column}{hint}")
        self.column = column


@dataclass(frozen=True)
class _Token:
    kind: str  # number | name | op | end
    text: str
    column: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].isspace():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            column = position + 1 + (len(text[position:]) - len(text[position:].lstrip()))
            char = text[column - 1]
            hint = "; powers are square(...) and cube(...)" if char == "^" else \
                "; numbers take the ASCII digits 0-9" if unicodedata.numeric(char, None) \
                is not None else ""
            raise ParseError(f"unexpected character {char!r}", column, hint)
        kind = match.lastgroup or "op"
        word = match.group(kind)
        tokens.append(_Token(kind, _UNICODE.get(word, word), match.start(kind) + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, original: str) -> None:
        self.tokens = _tokenize(original)
        self.index = 0
        self.depth = 0

    # helpers
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take()
        if token.text != text:
            found = "end of text" if token.kind == "end" else repr(token.text)
            raise ParseError(f"expected {text!r}, found {found}", token.column)
        return token

    def checked(self, node: Node, column: int) -> Node:
        """``node`` if within the limits; its children were checked when built."""
        if depth(node) > MAX_DEPTH:
            raise ParseError(f"expression deeper than {MAX_DEPTH} levels", column)
        if size(node) > MAX_NODES:
            raise ParseError(f"expression has more than {MAX_NODES} nodes, the limit", column)
        return node

    def nested(self, column: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"nesting deeper than {MAX_DEPTH}", column)

    # grammar
    def expression(self) -> Node:
        node = self.term()
        while self.peek().text in ("+", "-"):
            token = self.take()
            op, column = ("add" if token.text == "+" else "sub"), token.column
            node = self.checked(Call(op, (node, self.term())), column)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek().text in ("*", "/"):
            token = self.take()
            op, column = ("mul" if token.text == "*" else "div"), token.column
            node = self.checked(Call(op, (node, self.unary())), column)
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token.text == "-":
            self.take()
            self.nested(token.column)
            node = self.checked(Call("neg", (self.unary(),)), token.column)
            self.depth -= 1
            return node
        return self.atom()

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise ParseError(f"number {token.text} is out of range", token.column)
            return Const(value)
        if token.text == "(":
            self.nested(token.column)
            node = self.expression()
            self.expect(")")
            self.depth -= 1
            return node
        if token.kind == "name":
            return self.name(token)
        found = "end of text" if token.kind == "end" else repr(token.text)
        raise ParseError(f"expected x, beta, alpha, a number, a function or '(', found {found}",
                         token.column)

    def name(self, token: _Token) -> Node:
        name = token.text
        if self.peek().text != "(":
            if name in _LEAVES:
                return _LEAVES[name]
            raise ParseError(f"unknown name {name!r}", token.column,
                             _suggest(name, list(_LEAVES)))
        if name in _LEAVES:
            raise ParseError(f"{name!r} is not a function", token.column)
        self.take()
        self.nested(token.column)
        args = [self.expression()]
        while self.peek().text == ",":
            self.take()
            args.append(self.expression())
        self.expect(")")
        self.depth -= 1
        return self.checked(self._call(name, args, token.column), token.column)

    def _call(self, name: str, args: list[Node], column: int) -> Node:
        primitive = PRIMITIVES.get(name)
        if primitive is not None:
            if len(args) != primitive.arity:
                raise ParseError(_arity_message(name, primitive.arity, len(args)), column)
            return Call(name, tuple(args))
        op = search_op(name, len(args))
        if op is not None:
            return op.build(*args)
        for arity in (1, 2):
            if search_op(name, arity) is not None:
                raise ParseError(_arity_message(name, arity, len(args)), column)
        raise ParseError(f"unknown function {name!r}", column, _suggest(name, callable_names()))


def _arity_message(name: str, expected: int, got: int) -> str:
    return f"{name!r} takes {expected} argument{'s' * (expected > 1)}, got {got}"


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse(text: str) -> Expression:
    """Parse ``text`` into an ``Expression``; raises ``ParseError`` with a column."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}", 1)
    if len(text) > MAX_LENGTH:
        raise ParseError(f"text is {len(text)} characters long, the limit is {MAX_LENGTH}", 1)
    if not text.strip():
        raise ParseError("empty expression", 1)
    parser = _Parser(text)
    node = parser.expression()
    token = parser.peek()
    if token.kind != "end":
        raise ParseError(f"unexpected {token.text!r} after a complete expression", token.column)
    return Expression(node)
