"""Value filters inside PATCH paths (`emails[type eq "work" and primary eq true]`): the
syntax tree and its parser. Matching against in-memory values is in `valuematch.py`.

Grammar (RFC 7644 §3.4.2.2, as used in a valuePath): comparisons `attr op value` with
eq ne co sw ew gt ge lt le, `attr pr`, `and` / `or` / `not (...)`, parentheses;
precedence not > and > or; `and`/`or` chains are flat (n-ary) so long `or` chains of
member ids do not recurse. `bind` checks the names against the multi-valued attribute's
sub-attributes and refuses `gt`/`ge`/`lt`/`le` on boolean or binary ones (RFC 7644
§3.4.2.2). Syntax errors are InvalidPath: the filter is part of the PATCH path.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from dsync.scim.errors import InvalidFilter, InvalidPath
from dsync.scim.schema import Attr

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<lp>\() | (?P<rp>\)) |
      (?P<str>"(?:[^"\\]|\\.)*") |
      (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w$])) |
      (?P<word>[A-Za-z$][\w$\-:.]*)
    )""", re.VERBOSE)
_BLANK_TO_END = re.compile(r"\s*\Z")
MAX_NUMBER_CHARS = 40  # a longer number literal is no attribute value we store


@dataclass(frozen=True)
class Compare:
    attr: str
    op: str
    value: Any = None  # unused for "pr"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    inner: Node


Node = Compare | And | Or | Not
_LITERALS = {"true": True, "false": False, "null": None}
MAX_LENGTH = 1_000_000  # an `or` chain of a few thousand member ids still fits
MAX_DEPTH = 32  # nesting of parentheses / not(...)


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if _BLANK_TO_END.match(text, pos):  # not text[pos:].strip(): that copy is O(n)
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise InvalidPath(f"invalid filter near {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "str":
            try:
                tokens.append(("value", json.loads(raw)))
            except ValueError:
                raise InvalidPath(f"invalid string {raw!r} in filter") from None
        elif kind == "num":
            tokens.append(("value", _number(raw)))
        else:
            tokens.append((kind, raw))
    return tokens


def _number(raw: str) -> int | float:
    if len(raw) > MAX_NUMBER_CHARS:
        raise InvalidPath(f"the number {raw[:20]}... in the filter is too long")
    value = float(raw) if any(c in raw for c in ".eE") else int(raw)
    if value in (float("inf"), float("-inf")):
        raise InvalidPath(f"the number {raw!r} in the filter is out of range")
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def peek_word(self) -> str | None:
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "word":
            return str(self.tokens[self.pos][1]).lower()
        return None

    def take(self, kind: str) -> Any:
        if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != kind:
            raise InvalidPath("invalid filter: unexpected "
                              + ("end" if self.pos >= len(self.tokens)
                                 else repr(self.tokens[self.pos][1])))
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def parse(self) -> Node:
        node = self.parse_or()
        if self.pos != len(self.tokens):
            raise InvalidPath(f"invalid filter: unexpected {self.tokens[self.pos][1]!r}")
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek_word() == "or":
            self.pos += 1
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.peek_word() == "and":
            self.pos += 1
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_group(self) -> Node:
        self.take("lp")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidPath("invalid filter: nested too deeply")
        inner = self.parse_or()
        self.take("rp")
        self.depth -= 1
        return inner

    def parse_unary(self) -> Node:
        if self.peek_word() == "not":
            self.pos += 1
            return Not(self.parse_group())
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "lp":
            return self.parse_group()
        attr = str(self.take("word"))
        op = self.peek_word()
        if op == "pr":
            self.pos += 1
            return Compare(attr, "pr")
        if op not in COMPARE_OPS:
            raise InvalidPath(f"invalid filter: expected an operator after {attr!r}")
        self.pos += 1
        if self.peek_word() in _LITERALS:
            self.pos += 1
            return Compare(attr, op, _LITERALS[str(self.tokens[self.pos - 1][1]).lower()])
        return Compare(attr, op, self.take("value"))


def parse_value_filter(text: str) -> Node:
    """Parse the text between the brackets of a valuePath. Raises InvalidPath."""
    if len(text) > MAX_LENGTH:
        raise InvalidPath("filter too long")
    return _Parser(text).parse()


def bind(node: Node, parent: Attr) -> Node:
    """The filter with sub-attribute names made canonical for `parent`.

    Raises InvalidPath for a name that is not a sub-attribute of `parent`, InvalidFilter
    for an ordering comparison on a boolean or binary sub-attribute.
    """
    if isinstance(node, Compare):
        sub = parent.child(node.attr)
        if sub is None:
            raise InvalidPath(f"'{node.attr}' is not a sub-attribute of '{parent.name}'")
        if node.op in ("gt", "ge", "lt", "le") and sub.type in ("boolean", "binary"):
            raise InvalidFilter(f"'{node.op}' cannot compare {sub.type} '{parent.name}."
                                f"{sub.name}'")
        return Compare(sub.name, node.op, node.value)
    if isinstance(node, Not):
        return Not(bind(node.inner, parent))
    return type(node)(tuple(bind(item, parent) for item in node.items))
