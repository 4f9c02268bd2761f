"""The CloudEvents Kafka binding headers of a dsync.events record (pure)."""
from __future__ import annotations

from dsync.messages.kafka_binding import ce_headers


def test_headers_follow_the_attributes() -> None:
    event = {"specversion": "1.0", "id": "e1", "source": "/dsync/tenants/t", "type": "user.created",
             "subject": "u", "time": "2025-01-01T00:00:00Z", "tenantid": "t", "sequence": 7,
             "datacontenttype": "application/json", "dataschema": None, "data": {"x": 1}}
    headers = dict(ce_headers(event))
    assert headers["content-type"] == b"application/cloudevents+json; charset=utf-8"
    assert headers["ce_sequence"] == b"7" and headers["ce_type"] == b"user.created"
    assert "ce_dataschema" not in headers and "ce_data" not in headers


def test_headers_read_prefixed_columns() -> None:
    row = {"id": 1, "ce_id": "e1", "ce_type": "user.deleted"}
    assert ce_headers(row, prefix="ce_")[1:] == [("ce_id", b"e1"), ("ce_type", b"user.deleted")]
