"""Liveness and readiness probes shared by every service (docs/deploy.md#health).

- `/livez`: the process is alive and its event loop answers. Never looks at dependencies,
  so an outage of PostgreSQL or Kafka does not make an orchestrator restart every pod.
- `/readyz`: this instance can do its own job now (the gateway reaches PostgreSQL and the
  broker; a consumer has started its loop). 503 while draining at shutdown.

A check is an async function returning `{name: "ok" | why not}`; ready when all are "ok".
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaProducer

Checks = dict[str, str]
ReadyCheck = Callable[[], Awaitable[Checks]]
CHECK_TIMEOUT_S = 2.0


@dataclass
class Lifecycle:
    """Mutable process state the probes read; `draining` is set when shutdown begins."""

    draining: bool = False


LIFECYCLE = web.AppKey("dsync_lifecycle", Lifecycle)


def all_ok(checks: Checks) -> bool:
    return all(value == "ok" for value in checks.values())


def checks_response(checks: Checks, **extra: Any) -> web.Response:
    """200 `{"status": "ok", "checks"}` when every check is ok, else 503 "unavailable"."""
    ok = all_ok(checks)
    return web.json_response({"status": "ok" if ok else "unavailable", "checks": checks,
                              **extra}, status=200 if ok else 503)


async def database_check(pool: asyncpg.Pool) -> str:
    """"ok" when PostgreSQL answers `SELECT 1` within CHECK_TIMEOUT_S."""
    try:
        await pool.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"unreachable: {type(exc).__name__}"
    return "ok"


async def broker_check(producer: AIOKafkaProducer) -> str:
    """"ok" when the broker answers a metadata request within CHECK_TIMEOUT_S."""
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), CHECK_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def add_probe_routes(app: web.Application, ready: ReadyCheck) -> Lifecycle:
    """Add `/livez` and `/readyz` to `app`; returns the Lifecycle whose `draining` flag
    turns `/readyz` to 503 (set it when shutdown starts)."""
    lifecycle = Lifecycle()
    app[LIFECYCLE] = lifecycle

    async def livez(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if lifecycle.draining:
            return checks_response({"lifecycle": "draining"})
        return checks_response(await ready())

    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    return lifecycle


__all__ = ["LIFECYCLE", "Checks", "Lifecycle", "ReadyCheck", "add_probe_routes", "all_ok",
           "broker_check", "checks_response", "database_check"]
