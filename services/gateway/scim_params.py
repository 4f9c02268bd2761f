"""Query parameters of SCIM reads (RFC 7644 §3.4.2, §3.4.3, RFC 9865 cursors), parsed once."""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dsync.scim.errors import InvalidValue, ScimError

MAX_COUNT = 1000
DEFAULT_COUNT = 100


class InvalidCursor(ScimError):
    status = 400
    scim_type = "invalidCursor"
    reason_code = "invalid_cursor"


@dataclass(frozen=True)
class ReadParams:
    filter: str | None
    sort_by: str | None
    sort_order: str | None
    start_index: int
    count: int
    attributes: list[str] | None
    excluded: list[str] | None
    cursor: str | None  # None: index paging; "" first page of cursor paging

    @property
    def offset(self) -> int:
        return decode_cursor(self.cursor) if self.cursor else self.start_index - 1


def _int(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise InvalidValue(f"{name} must be an integer, not {raw!r}") from None


def _names(raw: Any) -> list[str] | None:
    if raw is None or raw == "":
        return None
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def parse(params: Mapping[str, Any]) -> ReadParams:
    """From URL query or a SearchRequest body; RFC 7644 says non-positive startIndex is 1
    and a negative count is 0; counts above the maximum are capped."""
    start = max(1, _int(params.get("startIndex"), "startIndex", 1))
    count = min(MAX_COUNT, max(0, _int(params.get("count"), "count", DEFAULT_COUNT)))
    order = params.get("sortOrder")
    if order is not None and str(order).lower() not in ("ascending", "descending"):
        raise InvalidValue("sortOrder must be 'ascending' or 'descending'")
    cursor = params.get("cursor")
    return ReadParams(filter=params.get("filter") or None, sort_by=params.get("sortBy") or None,
                      sort_order=str(order) if order else None, start_index=start, count=count,
                      attributes=_names(params.get("attributes")),
                      excluded=_names(params.get("excludedAttributes")),
                      cursor=None if cursor is None else str(cursor))


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError):
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not one this server issued") from None
