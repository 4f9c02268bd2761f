"""Refusing text PostgreSQL and JSON cannot carry, before anything else reads it.

PostgreSQL `text` and `jsonb` reject NUL (`\\u0000`), UTF-8 cannot encode a lone surrogate
(`\\ud800`), and JSON has no `Infinity`: a request carrying any of them is answered 400
`invalidValue` at the edge, so nothing deeper (the ledger, the directory, a log line) ever
sees one. One walk over the parsed body, iterative (no recursion limit), linear in its size.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from dsync.scim.errors import InvalidValue

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def bad_text(text: str) -> bool:
    """Whether `text` holds a NUL or a lone surrogate."""
    return _FORBIDDEN.search(text) is not None


def check_text(text: str, where: str) -> None:
    """Raise InvalidValue when `text` holds a NUL or a lone surrogate."""
    if _FORBIDDEN.search(text) is not None:
        raise InvalidValue(f"{where} contains a NUL character or an unpaired surrogate")


def check_json(value: Any, where: str = "the request body") -> None:
    """Raise InvalidValue for a NUL, a lone surrogate (in a key or a string) or a non-finite
    number anywhere in a parsed JSON document."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, f"a string in {where}")
        elif isinstance(item, dict):
            for key in item:
                if isinstance(key, str):
                    check_text(key, f"an attribute name in {where}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidValue(f"{where} contains a number that is not finite")


def check_pairs(pairs: Iterable[tuple[str, str]], where: str) -> None:
    """Raise InvalidValue when a name or value of `pairs` (a query string) is bad text."""
    for key, value in pairs:
        check_text(key, f"a parameter name in {where}")
        check_text(value, f"the parameter {key!r} in {where}")
