"""The delivery worker: every endpoint queue delivered in order, queues side by side.

The claim loop leases endpoints whose queue head is due (repository.claim_due) and runs one
task per leased endpoint (`EndpointQueue.drain`), up to `webhook_concurrency` at once. A
task stops at its endpoint's first failure and gives the lease back, so a failing
endpoint holds no slot while it waits for its retry and never delays other endpoints or
tenants. The
loop wakes on `NOTIFY dsync_webhooks` (new deliveries, resume, redeliver), when a task
ends, when the earliest retry is due, and every `webhook_poll_interval_s` as a fallback.
A ledger retry (`NOTIFY dsync_retry 'webhook_delivery:<op id>'`) makes that delivery due now.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from uuid import UUID

import asyncpg

from dsync.pipeline import channels
from dsync.pipeline.listener import NotifyListener
from dsync.process import sleep_or_stop, wait_either
from dsync_services.fanout import repository as repo
from dsync_services.fanout.endpoint_queue import DB_ERRORS, EndpointQueue
from dsync_services.fanout.metrics import FanoutMetrics
from dsync_services.fanout.sender import Sender
from dsync_services.fanout.settings import WebhookSettings

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(self, pool: asyncpg.Pool, listener: NotifyListener,
                 settings: WebhookSettings, sender: Sender, metrics: FanoutMetrics) -> None:
        self.pool, self.settings = pool, settings
        self.sender, self.metrics = sender, metrics
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self.queue = EndpointQueue(pool, settings, sender, metrics, self.owner)
        self._wake = asyncio.Event()
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()
        listener.subscribe(channels.WEBHOOKS, lambda _payload: self._wake.set())
        listener.subscribe(channels.RETRY, self._on_retry)
        listener.on_connect(self._wake.set)  # catch up on NOTIFYs missed while down

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; reconnects after database errors; leaves no task behind."""
        try:
            while not stop.is_set():
                try:
                    await self._claim_loop(stop)
                except DB_ERRORS as exc:
                    log.warning("delivery worker database error, restarting: %s", exc)
                    await sleep_or_stop(stop, 1.0)
        finally:
            tasks = list(self._tasks.values())
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=self.settings.webhook_timeout_s)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _claim_loop(self, stop: asyncio.Event) -> None:
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
            await wait_either(stop, self._wake, timeout)

    def _on_retry(self, payload: str) -> None:
        kind, _, op_id = payload.partition(":")
        if kind == "webhook_delivery":
            task = asyncio.create_task(self._retry_operation(op_id))
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)

    async def _retry_operation(self, op_id: str) -> None:
        try:
            if await repo.retry_now(self.pool, UUID(op_id)):
                self._wake.set()
        except (ValueError, *DB_ERRORS) as exc:
            log.warning("could not retry operation %s: %s", op_id, exc)

    def _start(self, webhook_id: UUID, stop: asyncio.Event) -> None:
        task = asyncio.create_task(self.queue.drain(webhook_id, stop))
        self._tasks[webhook_id] = task
        self.metrics.active_queues.set(len(self._tasks))

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(webhook_id, None)
            self.metrics.active_queues.set(len(self._tasks))
            self._wake.set()
        task.add_done_callback(done)
