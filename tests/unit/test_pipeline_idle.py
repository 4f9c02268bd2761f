"""The idle policy of the pipeline (dsync.pipeline.idle, backoff): a fake clock, no I/O."""
from __future__ import annotations

from dsync.pipeline.backoff import Backoff
from dsync.pipeline.idle import IdleClock, Waker


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


def test_waker_notifies_only_the_first_message_after_half_the_idle_time() -> None:
    clock = FakeClock()
    sent: list[float] = []
    waker = Waker(1.0, now=clock)

    def message_sent() -> None:
        if waker.due():
            sent.append(clock.t)

    message_sent()                          # first ever: the consumer may be paused
    for _ in range(10):                     # steady traffic: no extra round trip
        clock.t += 0.1
        message_sent()
    last = clock.t
    clock.t += 0.6                          # quiet for more than half the idle time
    message_sent()
    assert sent == [1000.0, last + 0.6]


def test_waker_is_never_later_than_the_consumer_pauses() -> None:
    """Whatever the gaps between messages, a consumer that paused (quiet >= idle_after)
    is always woken: the waker fires after a quiet spell of idle_after / 2."""
    clock = FakeClock()
    waker = Waker(1.0, now=clock)
    consumer = IdleClock(1.0, now=clock)
    for gap in (0.05, 0.3, 0.49, 0.5, 0.9, 1.0, 3.0, 0.01):
        clock.t += gap
        paused = consumer.idle()
        woken = waker.due()
        consumer.saw_records()
        assert woken or not paused, gap


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
