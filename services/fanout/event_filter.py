"""Which events an endpoint subscribes to (pure).

A filter is a list of patterns: an exact event type (`user.created`), a family
(`user.*`), or `*`. No filter (None) means every event.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from dsync.messages.events import EVENT_TYPES

_FAMILIES = {t.split(".", 1)[0] for t in EVENT_TYPES}


class InvalidFilter(ValueError):
    """A pattern names no event type dsync publishes."""


def normalize(patterns: object) -> list[str] | None:
    """Validated, de-duplicated patterns in given order; None for "all events".

    Raises InvalidFilter when `patterns` is not a list of known types or families.
    """
    if patterns is None:
        return None
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise InvalidFilter("'events' must be a list of event types")
    if not patterns:
        raise InvalidFilter("'events' must not be empty (omit it to receive every event)")
    out: list[str] = []
    for pattern in patterns:
        if not _known(pattern):
            raise InvalidFilter(f"unknown event type {pattern!r}; known: {', '.join(EVENT_TYPES)}")
        if pattern not in out:
            out.append(pattern)
    return None if "*" in out else out


def _known(pattern: str) -> bool:
    if pattern == "*" or pattern in EVENT_TYPES:
        return True
    family, dot, rest = pattern.partition(".")
    return bool(dot) and rest == "*" and family in _FAMILIES


def matches(patterns: Sequence[str] | None, event_type: str) -> bool:
    """True when an endpoint with `patterns` receives events of `event_type`."""
    if patterns is None:
        return True
    family = event_type.split(".", 1)[0]
    return any(p in ("*", event_type, f"{family}.*") for p in patterns)


def expand(patterns: Iterable[str] | None) -> list[str]:
    """The concrete event types a filter selects, in EVENT_TYPES order."""
    chosen = None if patterns is None else list(patterns)
    return [t for t in EVENT_TYPES if matches(chosen, t)]
