"""The delivery worker: every endpoint queue delivered in order, queues side by side.

The claim loop locks endpoints whose queue head is due (repository.due_endpoints, then
`EndpointLocks.try_lock` on the worker's own connection) and runs one task per locked
endpoint (`EndpointQueue.drain`), up to `webhook_concurrency` at once. A task stops at its
endpoint's first failure and gives the lock back, so a failing endpoint holds no slot
while it waits for its retry and never delays other endpoints or tenants. When the lock
connection fails (or its heartbeat times out) every task stops, and the worker starts
again on a new connection. The loop wakes on `NOTIFY dsync_webhooks` (new deliveries,
resume, redeliver), when a task ends, when the earliest retry is due, and every
`webhook_poll_interval_s` as a fallback. A ledger retry (`NOTIFY dsync_retry
'webhook_delivery:<op id>'`) makes that delivery due now.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

import asyncpg

from dsync.pipeline import channels
from dsync.pipeline.listener import NotifyListener
from dsync.process import sleep_or_stop, wait_either
from dsync_services.fanout import repository as repo
from dsync_services.fanout.endpoint_locks import EndpointLocks
from dsync_services.fanout.endpoint_queue import DB_ERRORS, EndpointQueue
from dsync_services.fanout.metrics import FanoutMetrics
from dsync_services.fanout.sender import Sender
from dsync_services.fanout.settings import WebhookSettings

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(self, dsn: str, pool: asyncpg.Pool, listener: NotifyListener,
                 settings: WebhookSettings, sender: Sender, metrics: FanoutMetrics) -> None:
        self.dsn, self.pool, self.settings = dsn, pool, settings
        self.sender, self.metrics = sender, metrics
        self._wake = asyncio.Event()
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()
        listener.subscribe(channels.WEBHOOKS, lambda _payload: self._wake.set())
        listener.subscribe(channels.RETRY, self._on_retry)
        listener.on_connect(self._wake.set)  # catch up on NOTIFYs missed while down

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; reconnects after database errors; leaves no task behind."""
        while not stop.is_set():
            locks = EndpointLocks(self.dsn)
            try:
                await locks.open()
                await self._claim_loop(locks, stop)
            except DB_ERRORS as exc:
                log.warning("delivery worker database error, restarting: %s", exc)
            finally:
                await self._drain_tasks()
                await locks.close()
            await sleep_or_stop(stop, 0.5)

    async def _drain_tasks(self) -> None:
        """Let the running tasks end (they stop at the next send once the locks are lost)."""
        tasks = list(self._tasks.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.settings.webhook_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _claim_loop(self, locks: EndpointLocks, stop: asyncio.Event) -> None:
        queue = EndpointQueue(self.pool, self.settings, self.sender, self.metrics, locks)
        lost = asyncio.Event()  # the heartbeat ended: the locks are gone (or stopping)
        heartbeat = asyncio.create_task(locks.heartbeat(stop))

        def ended(_: asyncio.Task[None]) -> None:
            lost.set()
            self._wake.set()
        heartbeat.add_done_callback(ended)
        try:
            await self._claim(queue, locks, stop, lost)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _claim(self, queue: EndpointQueue, locks: EndpointLocks, stop: asyncio.Event,
                     lost: asyncio.Event) -> None:
        while not stop.is_set():
            if lost.is_set() or not locks.held:
                raise asyncpg.InterfaceError("endpoint lock connection lost")
            self._wake.clear()
            free = self.settings.webhook_concurrency - len(self._tasks)
            if free > 0:
                due = await repo.due_endpoints(self.pool, free, list(self._tasks))
                for webhook_id in await locks.try_lock(due):
                    self._start(queue, webhook_id, stop)
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

    def _start(self, queue: EndpointQueue, webhook_id: UUID, stop: asyncio.Event) -> None:
        task = asyncio.create_task(queue.drain(webhook_id, stop))
        self._tasks[webhook_id] = task
        self.metrics.active_queues.set(len(self._tasks))

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.pop(webhook_id, None)
            self.metrics.active_queues.set(len(self._tasks))
            self._wake.set()
        task.add_done_callback(done)
