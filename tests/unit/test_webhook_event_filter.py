"""Which events a webhook endpoint subscribes to."""
from __future__ import annotations

import pytest

from dsync.messages.events import EVENT_TYPES
from dsync_services.fanout.event_filter import InvalidFilter, expand, matches, normalize


def test_none_and_star_mean_everything() -> None:
    assert normalize(None) is None
    assert normalize(["user.created", "*"]) is None
    assert all(matches(None, t) for t in EVENT_TYPES)


def test_exact_types_and_families() -> None:
    patterns = normalize(["user.*", "group.member_added", "user.*"])
    assert patterns == ["user.*", "group.member_added"]
    assert matches(patterns, "user.deleted") and matches(patterns, "group.member_added")
    assert not matches(patterns, "group.created") and not matches(patterns, "session.revoked")
    assert expand(["access.*"]) == ["access.roles_changed"]


@pytest.mark.parametrize("bad", [[], "user.created", ["user.nope"], ["nope.*"], [1], ["user"],
                                 ["user.created.*"], {"a": 1}])
def test_unknown_or_malformed_filters_are_refused(bad: object) -> None:
    with pytest.raises(InvalidFilter):
        normalize(bad)
