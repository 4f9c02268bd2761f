"""Consume dsync events from Kafka the way a downstream service should.

    python examples/consume_events.py --bootstrap localhost:9092 --group my-service

What it shows (see docs/events.md):
- its own consumer group, `auto_offset_reset="earliest"`, manual commits *after* the
  events of a batch were handled (at-least-once: a crash replays, never skips);
- dedupe by the CloudEvent `id` (a replay or a republished event is seen twice);
- gap detection by the per-tenant `sequence` (+1 per event of a tenant, in order on the
  tenant's partition, because the record key is the tenant id).

Each new event is printed as one JSON line on stdout; duplicates and gaps are reported on
stderr. In a real service keep `last_sequence` per tenant and the seen ids in your own
database, written in the same transaction as the effect of the event.
Needs only `aiokafka` (pip install aiokafka).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import OrderedDict
from typing import Any

from aiokafka import AIOKafkaConsumer

EPOCH_BITS = 32
"""`sequence` is `epoch * 2**32 + n`; the epoch grows only when dsync's database is restored."""


class SeenIds:
    """The most recent `capacity` event ids (a bounded dedupe window)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """True when `event_id` is new."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True


class Sequences:
    """Last sequence handled per tenant: tells new, duplicate, and gap apart."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def check(self, tenant: str, sequence: int) -> tuple[str, int]:
        """("new" | "duplicate" | "gap" | "new_epoch", how many events are missing before
        this one). "new_epoch": dsync's database was restored from a backup (the first
        event of a higher epoch, `sequence >> 32`): resynchronise the tenant."""
        last = self.last.get(tenant)
        if last is not None and sequence <= last:
            return "duplicate", 0
        if last is not None and sequence >> EPOCH_BITS > last >> EPOCH_BITS \
                and sequence == ((sequence >> EPOCH_BITS) << EPOCH_BITS) + 1:
            self.last[tenant] = sequence
            return "new_epoch", 0
        missing = 0 if last is None else sequence - last - 1
        self.last[tenant] = sequence
        return ("gap" if missing else "new"), missing


def report(**fields: Any) -> None:
    print(json.dumps(fields), file=sys.stderr, flush=True)


def handle(event: dict[str, Any]) -> None:
    """Your business logic goes here. This example prints a summary line."""
    print(json.dumps({"id": event["id"], "tenantid": event["tenantid"],
                      "sequence": event["sequence"], "type": event["type"],
                      "subject": event["subject"]}), flush=True)


async def consume(args: argparse.Namespace) -> int:
    consumer = AIOKafkaConsumer(
        args.topic, bootstrap_servers=args.bootstrap, group_id=args.group,
        enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_wait_ms=args.fetch_max_wait_ms)
    seen, sequences, handled = SeenIds(), Sequences(), 0
    await consumer.start()
    try:
        last_record = time.monotonic()
        while args.max_events is None or handled < args.max_events:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            if not batches:
                if args.idle_exit and time.monotonic() - last_record > args.idle_exit:
                    break
                continue
            last_record = time.monotonic()
            for records in batches.values():
                for record in records:
                    handled += process(record.value, args.tenant, seen, sequences)
            await consumer.commit()  # only after the batch was handled
    finally:
        await consumer.stop()
    return handled


def process(raw: bytes, tenant_filter: str | None, seen: SeenIds, sequences: Sequences) -> int:
    """Handle one record; return 1 when it was a new event that was handled."""
    try:
        event = json.loads(raw)
        tenant, sequence, event_id = event["tenantid"], int(event["sequence"]), event["id"]
    except (ValueError, KeyError, TypeError):
        report(warning="skipping a record that is not a dsync event")
        return 0
    if tenant_filter and tenant != tenant_filter:
        return 0
    if not seen.add(event_id):
        report(duplicate=event_id, tenantid=tenant, sequence=sequence, reason="same id")
        return 0
    verdict, missing = sequences.check(tenant, sequence)
    if verdict == "duplicate":
        report(duplicate=event_id, tenantid=tenant, sequence=sequence, reason="old sequence")
        return 0
    if verdict == "gap":
        report(gap=missing, tenantid=tenant, before_sequence=sequence)
    if verdict == "new_epoch":  # dsync was restored: your copy of this tenant may be ahead
        report(restored=tenant, first_sequence=sequence, action="resynchronise the tenant")
    handle(event)
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="dsync.events")
    parser.add_argument("--group", required=True, help="your service's consumer group")
    parser.add_argument("--tenant", help="only this tenant's events")
    parser.add_argument("--max-events", type=int, help="stop after this many new events")
    parser.add_argument("--idle-exit", type=float, help="stop after this many idle seconds")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=100)
    args = parser.parse_args()
    handled = asyncio.run(consume(args))
    report(handled=handled)


if __name__ == "__main__":
    main()
