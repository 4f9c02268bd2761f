"""Draining one endpoint's queue: in order, signed, one attempt in flight at a time.

`EndpointQueue.drain` is run by the delivery worker for an endpoint whose lock it holds
(endpoint_locks.py). It reads the queue in (sequence, id) order in batches, each read
checking the lock is still held, sends each delivery after the previous one got a 2xx
(and only while the lock connection is alive), and stops at the first failure (recorded
with its retry time, or `dead` + endpoint paused) or when the queue is empty or not yet
due. Plain successes are recorded once per batch; anything else at once. It gives the
lock back when it ends, whatever happened.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from dsync_services.fanout import repository as repo
from dsync_services.fanout.backoff import next_step
from dsync_services.fanout.endpoint_locks import EndpointLocks
from dsync_services.fanout.metrics import FanoutMetrics
from dsync_services.fanout.sender import AttemptResult, Sender
from dsync_services.fanout.settings import WebhookSettings
from dsync_services.fanout.signing import HEADER, signature_header
from dsync_services.fanout.standard_webhooks import standard_headers

log = logging.getLogger(__name__)
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
BAD_DATA = (asyncpg.DataError, asyncpg.exceptions._base.DataError)  # noqa: SLF001
UNRECORDABLE = "(the error text could not be stored)"


class EndpointQueue:
    def __init__(self, pool: asyncpg.Pool, settings: WebhookSettings, sender: Sender,
                 metrics: FanoutMetrics, locks: EndpointLocks) -> None:
        self.pool, self.settings, self.sender = pool, settings, sender
        self.metrics, self.locks = metrics, locks

    async def drain(self, webhook_id: UUID, stop: asyncio.Event) -> None:
        """Deliver one endpoint's due deliveries in order until empty, failed or stopped."""
        s = self.settings
        try:
            while not stop.is_set():
                if not self.locks.held:
                    return
                owned = await repo.next_batch(self.pool, webhook_id, self.locks.backend_pid,
                                              s.webhook_batch)
                if owned is None or not owned[1]:
                    return
                endpoint, batch = owned
                if not await self._send_batch(endpoint, batch, stop):
                    return
        except DB_ERRORS as exc:
            log.warning("delivering to endpoint %s failed: %s", webhook_id, exc)
        except Exception:
            log.exception("delivery task for endpoint %s crashed", webhook_id)
        finally:
            try:
                await self.locks.unlock(webhook_id)
            except DB_ERRORS as exc:
                log.warning("could not unlock endpoint %s: %s", webhook_id, exc)

    async def _send_batch(self, endpoint: repo.Endpoint, batch: list[repo.Delivery],
                          stop: asyncio.Event) -> bool:
        """Send `batch` in order; True when all of it was delivered (the queue may go on).

        Plain successes are recorded together after the batch (or before anything else is
        recorded), so a healthy receiver costs one transaction per batch, not per event.
        """
        done: list[tuple[repo.Delivery, datetime, int, float]] = []
        try:
            for delivery in batch:
                if not delivery.due or stop.is_set() or not self.locks.held:
                    return False
                started_at = datetime.now(UTC)
                result = await self.sender.send(endpoint.url, *self._request(endpoint,
                                                                             delivery))
                if result.ok and delivery.operation_id is None:
                    done.append((delivery, started_at, result.status_code or 200,
                                 result.latency_ms))
                    self._observe(result, "delivered", delivery)
                    continue
                await repo.record_successes(self.pool, endpoint.id, done)
                done = []
                if not await self._record(endpoint, delivery, started_at, result):
                    return False
            return True
        finally:
            await repo.record_successes(self.pool, endpoint.id, done)

    @staticmethod
    def _request(endpoint: repo.Endpoint, delivery: repo.Delivery) -> tuple[bytes,
                                                                            dict[str, str]]:
        body, now = delivery.body.encode(), int(time.time())
        return body, {HEADER: signature_header(endpoint.secrets, now, body),
                      **standard_headers(endpoint.secrets, str(delivery.event_id), now, body),
                      "Dsync-Event-Id": str(delivery.event_id),
                      "Dsync-Event-Type": delivery.event_type,
                      "Dsync-Webhook-Id": str(endpoint.id),
                      "Dsync-Delivery-Attempt": str(delivery.attempts + 1)}

    async def _record(self, endpoint: repo.Endpoint, delivery: repo.Delivery,
                      started_at: datetime, result: AttemptResult) -> bool:
        """Record a failure (or a success after failures); True when the queue may go on."""
        s = self.settings
        step = next_step(result.ok, delivery.round_attempts + 1,
                         max_attempts=s.webhook_max_attempts, base_s=s.webhook_backoff_base_s,
                         cap_s=s.webhook_backoff_cap_s)
        async def record(error: str | None, detail: str) -> bool:
            return await repo.record_attempt(
                self.pool, endpoint, delivery, started_at=started_at, outcome=result.outcome,
                status_code=result.status_code, latency_ms=result.latency_ms, error=error,
                status=step.status, delay_s=step.delay_s,
                operation_status=step.operation_status, detail=detail)

        detail = _detail(delivery, result, step.status, s.webhook_max_attempts)
        try:
            found = await record(result.error, detail)
        except BAD_DATA as exc:
            # The attempt's words could not be stored: record it without them, so the
            # delivery still backs off (and eventually goes dead) instead of being retried
            # at once, forever, blocking its endpoint.
            log.warning("attempt of %s recorded without its error text: %s",
                        delivery.event_id, type(exc).__name__)
            found = await record(UNRECORDABLE, f"{detail.split(':')[0]}: {UNRECORDABLE}")
        self._observe(result, step.status, delivery)
        if step.pauses_endpoint:
            log.warning("endpoint %s paused: delivery of %s is dead (%s)", endpoint.id,
                        delivery.event_id, result.error,
                        extra={"tenant_id": endpoint.tenant_id, "event_id": delivery.event_id,
                               "reason_code": result.outcome})
        return found and result.ok

    def _observe(self, result: AttemptResult, status: str, delivery: repo.Delivery) -> None:
        self.metrics.attempts.labels(result.outcome).inc()
        self.metrics.attempt_seconds.observe(result.latency_ms / 1000)
        if status == "delivered":
            self.metrics.delivered.inc()
            lag = (datetime.now(UTC) - delivery.event_time).total_seconds()
            self.metrics.lag_seconds.observe(max(lag, 0.0))
        elif status == "dead":
            self.metrics.dead.inc()



def _detail(delivery: repo.Delivery, result: AttemptResult, status: str, limit: int) -> str:
    what = f"event {delivery.event_id} ({delivery.event_type}, sequence {delivery.sequence})"
    if result.ok:
        return f"{what} delivered after {delivery.round_attempts + 1} attempts"
    tail = "; endpoint paused" if status == "dead" else "; will retry"
    return (f"{what}: {result.error} (attempt {delivery.round_attempts + 1} of {limit})"
            f"{tail}")
