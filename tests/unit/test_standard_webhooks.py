"""Standard Webhooks headers, checked with the `standardwebhooks` reference library."""
from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from dsync_services.fanout.standard_webhooks import standard_headers

BODY = b'{"id":"e1","type":"user.created"}'


def test_the_reference_library_accepts_the_headers() -> None:
    headers = standard_headers(["s3cret"], "e1", int(time.time()), BODY)
    assert Webhook(b"s3cret").verify(BODY, headers) == {"id": "e1", "type": "user.created"}
    with pytest.raises(WebhookVerificationError):
        Webhook(b"other").verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(b"s3cret").verify(BODY + b" ", headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    headers = standard_headers(["new", "old"], "e2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (b"new", b"old"):
        Webhook(secret).verify(BODY, headers)


def test_an_old_timestamp_is_refused() -> None:
    headers = standard_headers(["s"], "e3", int(time.time()) - 3600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(b"s").verify(BODY, headers)


def test_signing_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        standard_headers([], "e4", 0, BODY)
