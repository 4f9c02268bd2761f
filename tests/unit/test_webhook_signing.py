"""Webhook signatures: `t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>` (docs/events.md)."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from dsync_services.fanout.signing import compute, parse_header, signature_header, verify

BODY = b'{"id":"e1","type":"user.created"}'


def test_header_is_t_and_hex_hmac_of_t_dot_body() -> None:
    header = signature_header(["s3cret"], 1_700_000_000, BODY)
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_rotation_overlap_signs_with_new_then_old() -> None:
    header = signature_header(["new", "old"], 10, BODY)
    t, sigs = parse_header(header)
    assert t == 10 and sigs == [compute("new", 10, BODY), compute("old", 10, BODY)]
    assert verify(header, BODY, "new", now=10) and verify(header, BODY, "old", now=10)
    assert not verify(header, BODY, "other", now=10)


def test_verify_rejects_tampered_body_stale_time_and_garbage() -> None:
    header = signature_header(["k"], 1000, BODY)
    assert verify(header, BODY, "k", now=1100)
    assert not verify(header, BODY + b" ", "k", now=1000)
    assert not verify(header, BODY, "k", now=1000 + 301)
    for bad in ("", "t=1", "v1=abc", "t=x,v1=abc", "garbage"):
        assert not verify(bad, BODY, "k", now=1000)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        signature_header([], 1, BODY)
