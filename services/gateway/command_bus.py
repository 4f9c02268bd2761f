"""Submitting a SCIM write: ledger row, command on `dsync.commands`, wait for the outcome.

The ledger row (`accepted`) is written before the command is produced, so every request is
accounted for even if the gateway dies right after. The answer is whatever the directory
decided; if it does not come within the write timeout, the caller answers 503 with
`Retry-After` and the operation id, and the command still completes.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from dsync.messages.commands import Command, encode_command
from dsync.pii import mask_pii
from dsync_services.gateway.outcomes import OutcomeWaiter

log = logging.getLogger(__name__)


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
                 topic: str, timeout_s: float) -> None:
        self.pool = pool
        self.producer = producer
        self.waiter = waiter
        self.topic = topic
        self.timeout_s = timeout_s

    async def submit(self, command: Command, *, method: str, path: str,
                     resource_type: str) -> dict[str, Any]:
        """Publish `command` and return the directory's stored response.

        Raises OutcomeTimeout (the operation goes on) or BrokerUnavailable (not published).
        """
        payload = encode_command(command)
        await self.pool.execute(
            "INSERT INTO operations (id, tenant_id, method, path, resource_type, resource_id,"
            " status, command, received_at) VALUES ($1, $2, $3, $4, $5, $6, 'accepted',"
            " $7::text::jsonb, $8)",
            command.command_id, command.tenant_id, method, path, resource_type,
            getattr(command, "resource_id", None), payload.decode(), command.issued_at)
        done = self.waiter.register(command.command_id)
        try:
            try:
                await self.producer.send_and_wait(self.topic, payload,
                                                  key=str(command.tenant_id).encode())
            except KafkaError as exc:
                await self._mark_unpublished(command.command_id, exc)
                raise BrokerUnavailable(command.command_id) from exc
            try:
                carried = await asyncio.wait_for(asyncio.shield(done), self.timeout_s)
            except TimeoutError:
                raise OutcomeTimeout(command.command_id) from None
        finally:
            self.waiter.forget(command.command_id)
        if carried is not None:
            return carried
        response: dict[str, Any] = await self.pool.fetchval(
            "SELECT response FROM operations WHERE id = $1", command.command_id)
        return response

    async def _mark_unpublished(self, op_id: UUID, exc: Exception) -> None:
        log.warning("could not publish command: %s", type(exc).__name__,
                    extra={"operation_id": op_id})
        await self.pool.execute(
            "UPDATE operations SET status = 'failed', reason_code = 'broker_unavailable',"
            " retryable = true, attempts = attempts + 1, completed_at = now(),"
            " detail = 'The command could not be published to Kafka; retry the operation'"
            " WHERE id = $1 AND status = 'accepted'", op_id)

    async def record_rejection(self, *, tenant_id: UUID, op_id: UUID, method: str, path: str,
                               resource_type: str, reason_code: str, detail: str) -> None:
        """Ledger row for a write the gateway itself rejected (bad input)."""
        await self.pool.execute(
            "INSERT INTO operations (id, tenant_id, method, path, resource_type, status,"
            " reason_code, detail, completed_at) VALUES ($1, $2, $3, $4, $5, 'rejected', $6,"
            " $7, now())", op_id, tenant_id, method, path, resource_type, reason_code,
            mask_pii(detail[:1000]))
