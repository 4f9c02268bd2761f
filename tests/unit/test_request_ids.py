"""Request ids: which incoming ids are kept, and the gateway's log level setting."""
from __future__ import annotations

import re

import pytest

from dsync_services.gateway.request_ids import accept_or_new
from dsync_services.gateway.settings import GatewayExtra


def test_only_sane_incoming_ids_are_kept() -> None:
    assert accept_or_new("req-1:abc/def+x=y@z.1") == "req-1:abc/def+x=y@z.1"
    for bad in (None, "", "a b", "x" * 129, "id\u00e9", 'x"}'):
        fresh = accept_or_new(bad)
        assert re.fullmatch(r"[0-9a-f]{32}", fresh), bad


def test_an_unknown_log_level_is_refused() -> None:
    assert GatewayExtra(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ValueError, match="DSYNC_LOG_LEVEL"):
        GatewayExtra(log_level="chatty")
