"""Masking personal data in ledger details; the DLQ circuit breaker's decision."""
from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from dsync.pii import mask_pii
from dsync_services.directory.command_consumer import CommandHandler, DlqBreakerOpen
from dsync_services.directory.metrics import DirectoryMetrics


def test_emails_are_masked_other_text_kept() -> None:
    assert mask_pii("member ada.lovelace@example.com is unknown") == \
        "member a***@example.com is unknown"
    assert mask_pii("userName is already taken") == "userName is already taken"
    assert mask_pii(None) is None


class _RecordingProducer:
    """Stands in for the Kafka producer: the breaker decision is what is under test."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_and_wait(self, topic: str, value: bytes, **_: Any) -> None:
        self.sent.append(value)


def _record(offset: int, value: bytes) -> ConsumerRecord:  # type: ignore[type-arg]
    return ConsumerRecord("t.commands", 0, offset, 0, 0, b"tenant", value, None, 6,
                          len(value), [])


async def test_breaker_holds_the_partition_after_too_many_poison_records() -> None:
    producer = _RecordingProducer()
    handler = CommandHandler(pool=None, producer=producer, dlq_topic="t.dlq",  # type: ignore[arg-type]
                             metrics=DirectoryMetrics(), dlq_max_consecutive=3)
    tp = TopicPartition("t.commands", 0)
    await handler(tp, [_record(i, b"garbage") for i in range(3)])
    assert len(producer.sent) == 3
    with pytest.raises(DlqBreakerOpen, match="3 malformed commands in a row"):
        await handler(tp, [_record(3, b"garbage")])
    assert len(producer.sent) == 3  # the fourth was not drained into the DLQ
    assert handler.metrics.dlq_breaker_open._value.get() == 1  # noqa: SLF001
