"""Query parameters of SCIM reads (RFC 7644 §3.4.2, §3.4.3, RFC 9865 cursors), parsed once."""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dsync.scim.errors import InvalidValue, ScimError
from dsync.scim.limits import ScimLimits, check_attribute_names, check_filter

MAX_COUNT = 1000
"""The default of `DSYNC_MAX_COUNT`."""
_DEFAULT_LIMITS = ScimLimits.model_construct()  # the class defaults, no environment read
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


MAX_START_INDEX = 2**31 - 1
"""Largest `startIndex` (and cursor offset) accepted; beyond it no page can hold anything."""


def _int(raw: Any, name: str, default: int) -> int:
    """An integer parameter: a JSON integer (a SearchRequest) or decimal digits (a query)."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise InvalidValue(f"{name} must be an integer")
    if isinstance(raw, str):
        text = raw.strip()
        if not (text.lstrip("+-").isdigit() and text.isascii() and len(text) <= 20):
            raise InvalidValue(f"{name} must be an integer, not {raw[:40]!r}")
        return int(text)
    return int(raw)


def _text(raw: Any, name: str) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise InvalidValue(f"{name} must be a string")
    return raw


def _names(raw: Any, name: str) -> list[str] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(i, str) for i in raw):
        items = raw
    else:
        raise InvalidValue(f"{name} must be a list of attribute names or a comma-separated "
                           "string")
    return [i.strip() for i in items if i.strip()]


def parse(params: Mapping[str, Any], limits: ScimLimits = _DEFAULT_LIMITS) -> ReadParams:
    """From URL query or a SearchRequest body; RFC 7644 says non-positive startIndex is 1
    and a negative count is 0; counts above the maximum are capped. Raises InvalidValue for
    a parameter of the wrong type and a `startIndex` above `MAX_START_INDEX`, TooMany for
    attribute lists and InvalidFilter for filters over `limits`."""
    start = max(1, _int(params.get("startIndex"), "startIndex", 1))
    if start > MAX_START_INDEX:
        raise InvalidValue(f"startIndex must be at most {MAX_START_INDEX}")
    count = min(limits.max_count, max(0, _int(params.get("count"), "count", DEFAULT_COUNT)))
    order = _text(params.get("sortOrder"), "sortOrder")
    if order is not None and order.lower() not in ("ascending", "descending"):
        raise InvalidValue("sortOrder must be 'ascending' or 'descending'")
    cursor = params.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidValue("cursor must be a string")
    filter_text = _text(params.get("filter"), "filter")
    check_filter(filter_text, limits)
    attributes = _names(params.get("attributes"), "attributes")
    excluded = _names(params.get("excludedAttributes"), "excludedAttributes")
    check_attribute_names(attributes, "attributes", limits)
    check_attribute_names(excluded, "excludedAttributes", limits)
    return ReadParams(filter=filter_text,
                      sort_by=_text(params.get("sortBy"), "sortBy"),
                      sort_order=order, start_index=start, count=count,
                      attributes=attributes, excluded=excluded,
                      cursor=cursor)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    invalid = InvalidCursor(f"cursor {cursor[:40]!r} is not one this server issued")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["o"]
    except (ValueError, KeyError, TypeError):
        raise invalid from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not \
            0 <= offset <= MAX_START_INDEX:
        raise invalid
    return offset
