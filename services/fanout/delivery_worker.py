"""The delivery worker: every endpoint queue delivered in order, queues side by side.

The claim loop leases endpoints whose queue head is due (repository.claim_due) and runs one
task per leased endpoint, up to `webhook_concurrency` at once. A task sends its queue's
deliveries one after another in (sequence, id) order and stops at the first failure: the
failed delivery is scheduled for a retry and the lease is given back, so a failing
endpoint holds no slot while it waits and never delays other endpoints or tenants. The
loop wakes on `NOTIFY dsync_webhooks` (new deliveries, resume, redeliver), when a task
ends, when the earliest retry is due, and every `webhook_poll_interval_s` as a fallback.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from dsync.db.pool import connect
from dsync_services.fanout import repository as repo
from dsync_services.fanout.backoff import next_step
from dsync_services.fanout.enqueue import WEBHOOKS_CHANNEL
from dsync_services.fanout.metrics import FanoutMetrics
from dsync_services.fanout.sender import AttemptResult, Sender
from dsync_services.fanout.settings import WebhookSettings
from dsync_services.fanout.signing import HEADER, signature_header

log = logging.getLogger(__name__)
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class DeliveryWorker:
    def __init__(self, pool: asyncpg.Pool, dsn: str, settings: WebhookSettings,
                 sender: Sender, metrics: FanoutMetrics) -> None:
        self.pool, self.dsn, self.settings = pool, dsn, settings
        self.sender, self.metrics = sender, metrics
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._wake = asyncio.Event()
        self._tasks: dict[UUID, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; reconnects after database errors; leaves no task behind."""
        try:
            while not stop.is_set():
                try:
                    await self._claim_loop(stop)
                except _DB_ERRORS as exc:
                    log.warning("delivery worker database error, restarting: %s", exc)
                    await _wait(stop, 1.0)
        finally:
            tasks = list(self._tasks.values())
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=self.settings.webhook_timeout_s)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        listener = await connect(self.dsn)
        try:
            await listener.add_listener(WEBHOOKS_CHANNEL, lambda *_: self._wake.set())
            while not stop.is_set():
                self._wake.clear()
                free = self.settings.webhook_concurrency - len(self._tasks)
                if free > 0:
                    for webhook_id in await repo.claim_due(self.pool, self.owner, free,
                                                           self.settings.webhook_lease_s):
                        self._start(webhook_id, stop)
                timeout = self.settings.webhook_poll_interval_s
                retry_in = await repo.seconds_to_next_retry(self.pool)
                if retry_in is not None:
                    timeout = min(timeout, retry_in + 0.001)
                await _wait_any(stop, self._wake, timeout)
                if listener.is_closed():
                    raise asyncpg.InterfaceError("delivery worker LISTEN connection lost")
        finally:
            await listener.close()

    def _start(self, webhook_id: UUID, stop: asyncio.Event) -> None:
        task = asyncio.create_task(self._drain(webhook_id, stop))
        self._tasks[webhook_id] = task
        self.metrics.active_queues.set(len(self._tasks))

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(webhook_id, None)
            self.metrics.active_queues.set(len(self._tasks))
            self._wake.set()
        task.add_done_callback(done)

    async def _drain(self, webhook_id: UUID, stop: asyncio.Event) -> None:
        """Deliver one endpoint's due deliveries in order until empty, failed or stopped."""
        s = self.settings
        try:
            while not stop.is_set():
                leased = await repo.lease_batch(self.pool, webhook_id, self.owner,
                                                s.webhook_lease_s, s.webhook_batch)
                if leased is None or not leased[1]:
                    return
                endpoint, batch = leased
                for delivery in batch:
                    if not delivery.due or stop.is_set():
                        return
                    if not await self._attempt(endpoint, delivery):
                        return
        except _DB_ERRORS as exc:
            log.warning("delivering to endpoint %s failed: %s", webhook_id, exc)
        except Exception:
            log.exception("delivery task for endpoint %s crashed", webhook_id)
        finally:
            try:
                await repo.release(self.pool, webhook_id, self.owner)
            except _DB_ERRORS as exc:
                log.warning("could not release endpoint %s: %s", webhook_id, exc)

    async def _attempt(self, endpoint: repo.Endpoint, delivery: repo.Delivery) -> bool:
        """Send one delivery and record the outcome; True when the queue may go on."""
        s = self.settings
        body = delivery.body.encode()
        started_at = datetime.now(UTC)
        headers = {HEADER: signature_header(endpoint.secrets, int(time.time()), body),
                   "Dsync-Event-Id": str(delivery.event_id),
                   "Dsync-Event-Type": delivery.event_type,
                   "Dsync-Webhook-Id": str(endpoint.id),
                   "Dsync-Delivery-Attempt": str(delivery.attempts + 1)}
        result = await self.sender.send(endpoint.url, body, headers)
        step = next_step(result.ok, delivery.round_attempts + 1,
                         max_attempts=s.webhook_max_attempts, base_s=s.webhook_backoff_base_s,
                         cap_s=s.webhook_backoff_cap_s)
        found = await repo.record_attempt(
            self.pool, endpoint, delivery, started_at=started_at, outcome=result.outcome,
            status_code=result.status_code, latency_ms=result.latency_ms, error=result.error,
            status=step.status, delay_s=step.delay_s, operation_status=step.operation_status,
            detail=_detail(delivery, result, step.status, s.webhook_max_attempts))
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


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = {asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())}
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
