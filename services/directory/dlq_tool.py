"""List and replay dead-lettered commands.

    python -m dsync_services.directory.dlq_tool list [--limit N]
    python -m dsync_services.directory.dlq_tool replay --offset N [--offset M ...] | --all

`list` prints one JSON line per DLQ record: DLQ offset, origin topic/partition/offset, the
error, the tenant key and the first bytes of the payload. `replay` publishes the chosen
records again on the commands topic, keyed by their tenant (fix the cause first: a record
that is still malformed is dead-lettered again) and NOTIFYs the command consumers, which
fetch only when told to (DSYNC_DATABASE_URL; without it they find the records at their
next idle check, within DSYNC_KAFKA_IDLE_CHECK_S). Uses DSYNC_KAFKA_BOOTSTRAP and
DSYNC_KAFKA_TOPIC_PREFIX like the services.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dsync.db.pool import connect
from dsync.kafka.clients import build_producer, build_reader
from dsync.pipeline import channels
from dsync.settings import KafkaSettings, PostgresSettings

log = logging.getLogger(__name__)


async def read_dlq(settings: KafkaSettings, limit: int | None = None) -> list[Any]:
    """Every record of the DLQ topic from the start (single partition), oldest first."""
    consumer: AIOKafkaConsumer = build_reader(settings)
    await consumer.start()
    try:
        tp = TopicPartition(settings.commands_dlq_topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        records: list[Any] = []
        idle = 0
        while idle < 3 and (limit is None or len(records) < limit):
            batch = await consumer.getmany(tp, timeout_ms=300)
            got = batch.get(tp, [])
            idle = 0 if got else idle + 1
            records.extend(got)
        return records[:limit] if limit else records
    finally:
        await consumer.stop()


def describe(record: Any) -> dict[str, Any]:
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or [])}
    return {"dlq_offset": record.offset, "origin_topic": headers.get("origin_topic"),
            "origin_partition": headers.get("origin_partition"),
            "origin_offset": headers.get("origin_offset"), "error": headers.get("error"),
            "tenant": (record.key or b"").decode(errors="replace"),
            "payload_head": (record.value or b"")[:200].decode(errors="replace")}


async def replay(settings: KafkaSettings, records: list[Any],
                 database_url: str | None = None) -> int:
    """Publish `records` on the commands topic again, then wake the command consumers."""
    producer: AIOKafkaProducer = build_producer(settings, client_id="dlq-tool")
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(settings.commands_topic, record.value, key=record.key)
    finally:
        await producer.stop()
    await _wake_command_consumers(database_url or PostgresSettings().database_url)
    return len(records)


async def _wake_command_consumers(dsn: str) -> None:
    try:
        conn = await connect(dsn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.warning("could not wake the command consumers (%s): they find the replayed "
                    "records at their next idle check", type(exc).__name__)
        return
    try:
        await conn.execute("SELECT pg_notify($1, '')", channels.COMMANDS_WAKE)
    finally:
        await conn.close()


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dlq_tool", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="print dead-lettered commands")
    ls.add_argument("--limit", type=int, default=None)
    rp = sub.add_parser("replay", help="publish dead-lettered commands again")
    rp.add_argument("--offset", type=int, action="append", default=[])
    rp.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    settings = KafkaSettings()
    records = await read_dlq(settings, getattr(args, "limit", None))
    if args.cmd == "list":
        for record in records:
            print(json.dumps(describe(record)))
        print(f"# {len(records)} dead-lettered command(s) in {settings.commands_dlq_topic}",
              file=sys.stderr)
        return 0
    chosen = records if args.all else [r for r in records if r.offset in set(args.offset)]
    if not chosen:
        print("nothing to replay: give --offset N (see `list`) or --all", file=sys.stderr)
        return 2
    count = await replay(settings, chosen)
    print(f"replayed {count} command(s) to {settings.commands_topic}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
