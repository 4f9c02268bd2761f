"""The idle policy of the pipeline (dsync.pipeline.idle, backoff): a fake clock, no I/O."""
from __future__ import annotations

import asyncio

from dsync.pipeline.backoff import Backoff
from dsync.pipeline.idle import IdleClock, Wakeups


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_consumer_may_pause_only_after_a_quiet_spell() -> None:
    clock = FakeClock()
    idle = IdleClock(1.0, now=clock)
    assert not idle.idle()
    clock.t += 0.9
    assert not idle.idle()
    clock.t += 0.2
    assert idle.idle()
    idle.saw_records()
    assert not idle.idle()


async def test_wakeups_coalesce_but_every_message_is_followed_by_a_notify() -> None:
    """One NOTIFY at a time; messages produced while one is being sent get one more,
    which starts after them (so the consumer that fetches after it sees them)."""
    started: list[int] = []
    produced = 0
    gate = asyncio.Event()

    async def send() -> None:
        started.append(produced)  # how many messages existed when this NOTIFY started
        await gate.wait()

    wakeups = Wakeups(send)
    produced += 1
    wakeups.produced()
    await asyncio.sleep(0)
    for _ in range(5):                # five more while the first NOTIFY is in flight
        produced += 1
        wakeups.produced()
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert started == [1, 6]          # two NOTIFYs for six messages; the last saw them all
    assert wakeups.sent == 2
    produced += 1
    wakeups.produced()                # after a quiet moment: a NOTIFY of its own
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == [1, 6, 7]
    await wakeups.stop()


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    b = Backoff(first_s=0.05, cap_s=0.3)
    assert [b.next() for _ in range(5)] == [0.05, 0.1, 0.2, 0.3, 0.3]
    b.reset()
    assert b.next() == 0.05


async def test_a_consumer_never_pauses_unassigned_or_right_after_an_assignment() -> None:
    """A restarted consumer joins while producers are busy (they send no wake-up): it must
    not pause before it owns partitions, nor on its first poll after an assignment."""
    from aiokafka import TopicPartition

    from dsync.pipeline.consumer import PipelineConsumer
    from dsync.pipeline.listener import NotifyListener
    from dsync.settings import KafkaSettings

    async def handler(_tp: object, _records: object) -> None:
        return None

    listener = NotifyListener("postgresql://unused")
    listener.connected.set()
    consumer = PipelineConsumer(KafkaSettings(kafka_idle_after_s=1.0), topic="t",
                                group_id="g", service="s", handler=handler,
                                listener=listener, wake_channel="w")
    try:
        clock = FakeClock()
        consumer.clock = IdleClock(1.0, now=clock)
        clock.t += 5
        assert not consumer._may_pause()  # noqa: SLF001 - idle, but nothing assigned
        await consumer.assignment.on_partitions_assigned([TopicPartition("t", 0)])
        assert not consumer._may_pause()  # noqa: SLF001 - a new assignment: poll first
        assert not consumer._may_pause()  # noqa: SLF001 - ... for a whole quiet spell
        clock.t += 1.1
        assert consumer._may_pause()  # noqa: SLF001
    finally:
        await consumer.consumer.stop()
