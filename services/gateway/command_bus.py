"""Submitting a SCIM write: command on `dsync.commands`, wait for the outcome.

No database write on the way in: the directory records the operation in the ledger in the
same transaction that applies the command (one statement per batch), so every answered
request is accounted for without a commit per request. The gateway writes a ledger row
itself only when it cannot report the directory's outcome:

* the outcome does not come within the write timeout: an `accepted` row holding the
  command (the client gets 503 + `Retry-After` + `Dsync-Operation-Id`; the command still
  completes, or the housekeeping marks it `not_delivered` if the broker lost it);
* the broker refuses the command: a `failed`, retryable `broker_unavailable` row.

A gateway killed mid-request answered nothing; if its command reached the broker, the
directory applies and records it.
After producing, the gateway NOTIFYs `dsync_commands_wake` (coalesced: one NOTIFY at a
time, one more if commands were produced meanwhile), so a command consumer that paused
after a quiet spell fetches at once (dsync.pipeline.idle); not with
`DSYNC_KAFKA_IDLE_PAUSE=false` (Apache Kafka), where consumers long-poll.

Two producers: a write that is alone in the gateway goes out at once; while other writes
are in flight, commands go through a producer that lingers `DSYNC_KAFKA_COMMAND_LINGER_MS`
so that concurrent writes share one produce request (fewer requests for the broker and
every fetcher). Writes in flight together have no order among themselves, so the two
producers cannot reorder anything a client sequenced.
"""
from __future__ import annotations

import asyncio
import logging
import time
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import Histogram

from dsync.ledger import writes
from dsync.messages.answers import WriteAnswer
from dsync.messages.commands import Command, encode_command
from dsync.pipeline import channels
from dsync.pipeline.idle import Wakeups
from dsync.scim.errors import TooLarge
from dsync.tracing import Tracing
from dsync_services.gateway.outcomes import OutcomeWaiter

log = logging.getLogger(__name__)
RECORD_OVERHEAD = 1024
"""Bytes kept for the record's key, headers and batch framing under `max_request_size`."""

class OutcomeTimeout(Exception):  # noqa: N818
    def __init__(self, op_id: UUID) -> None:
        super().__init__(str(op_id))
        self.op_id = op_id


class BrokerUnavailable(Exception):  # noqa: N818
    def __init__(self, op_id: UUID) -> None:
        super().__init__(str(op_id))
        self.op_id = op_id


class CommandBus:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, waiter: OutcomeWaiter,
                 topic: str, timeout_s: float, wake_consumers: bool,
                 max_message_bytes: int = 1024 * 1024,
                 outcome_seconds: Histogram | None = None,
                 tracing: Tracing | None = None,
                 batching_producer: AIOKafkaProducer | None = None) -> None:
        self.pool = pool
        self.batching_producer = batching_producer
        """Lingers to batch concurrent commands (module doc); None: always `producer`."""
        self.in_flight = 0
        self.tracing = tracing or Tracing()
        self.outcome_seconds = outcome_seconds
        """`dsync_gateway_write_outcome_seconds{outcome}`: publish to outcome (or give-up)."""
        self.producer = producer
        self.waiter = waiter
        self.topic = topic
        self.timeout_s = timeout_s
        self.wakeups = Wakeups(self._wake_consumers) if wake_consumers else None
        self.max_message_bytes = max_message_bytes

    async def _wake_consumers(self) -> None:
        try:
            await self.pool.execute("SELECT pg_notify($1, '')", channels.COMMANDS_WAKE)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not wake the command consumers: %s", type(exc).__name__)

    async def submit(self, command: Command, *, method: str, path: str,
                     resource_type: str) -> WriteAnswer:
        """Publish `command` and return the directory's answer.

        Raises OutcomeTimeout (the operation goes on), BrokerUnavailable (not published) or
        TooLarge (413: the command does not fit in one Kafka record; nothing published).
        """
        payload = encode_command(command)
        if len(payload) > self.max_message_bytes - RECORD_OVERHEAD:
            raise TooLarge(f"The change is {len(payload)} bytes once encoded; at most "
                           f"{self.max_message_bytes - RECORD_OVERHEAD} fit in one command. "
                           "Send large member lists in several PATCH requests.")
        done = self.waiter.register(command.command_id)
        started, outcome = time.perf_counter(), "answered"
        self.in_flight += 1
        try:
            try:
                await self._send(command, payload)
            except KafkaError as exc:
                log.warning("could not publish command: %s", type(exc).__name__,
                            extra={"operation_id": command.command_id})
                outcome = "broker_unavailable"
                await self._record(command, payload, method, path, resource_type,
                                   failed=True)
                raise BrokerUnavailable(command.command_id) from exc
            if self.wakeups is not None:
                self.wakeups.produced()
            try:
                carried = await asyncio.wait_for(asyncio.shield(done), self.timeout_s)
            except TimeoutError:
                outcome = "timeout"
                await self._record(command, payload, method, path, resource_type,
                                   failed=False)
                raise OutcomeTimeout(command.command_id) from None
        finally:
            self.in_flight -= 1
            self.waiter.forget(command.command_id)
            if self.outcome_seconds is not None:
                self.outcome_seconds.labels(outcome).observe(time.perf_counter() - started)
        if carried is None:
            carried = await self.pool.fetchval(
                "SELECT response FROM operations WHERE id = $1", command.command_id)
        return WriteAnswer.model_validate(carried)

    async def _send(self, command: Command, payload: bytes) -> None:
        with self.tracing.span("dsync.command publish", kind="PRODUCER",
                               attributes={"messaging.destination.name": self.topic,
                                           "dsync.operation_id": str(command.command_id)}):
            producer = self.producer
            if self.in_flight > 1 and self.batching_producer is not None:
                producer = self.batching_producer  # others in flight: share a request
            await producer.send_and_wait(self.topic, payload,
                                         key=str(command.tenant_id).encode(),
                                         headers=self.tracing.headers() or None)

    async def _record(self, command: Command, payload: bytes, method: str, path: str,
                      resource_type: str, *, failed: bool) -> None:
        """The ledger row of a request whose outcome the gateway could not report."""
        try:
            await writes.record_unanswered_write(
                self.pool, op_id=command.command_id, tenant_id=command.tenant_id,
                method=method, path=path, resource_type=resource_type,
                resource_id=getattr(command, "resource_id", None),
                command_json=payload.decode(), received_at=command.issued_at,
                not_published=failed)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not record the unanswered operation: %s", type(exc).__name__,
                        extra={"operation_id": command.command_id})

    async def record_rejection(self, *, tenant_id: UUID, op_id: UUID, method: str, path: str,
                               resource_type: str, reason_code: str, detail: str) -> None:
        """Ledger row for a write the gateway itself rejected (bad input)."""
        await writes.record_gateway_rejection(
            self.pool, op_id=op_id, tenant_id=tenant_id, method=method, path=path,
            resource_type=resource_type, reason_code=reason_code, detail=detail)
