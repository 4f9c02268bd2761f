"""`create_app(settings)`: the gateway's aiohttp application, wired in one place."""
from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from dsync.db.migrate import migrate_dsn
from dsync.db.pool import create_pool
from dsync.health import add_probe_routes
from dsync.kafka.clients import build_producer
from dsync.kafka.topics import ensure_topics
from dsync.process import metrics_handler
from dsync.tracing import setup_tracing
from dsync_services.fanout import api as fanout_api
from dsync_services.gateway import (
    admin_limits,
    admin_operations,
    admin_tenants,
    console,
    openapi,
    quotas,
    request_ids,
    scim_bulk,
    scim_discovery,
    scim_groups,
    scim_queries,
    scim_users,
)
from dsync_services.gateway.command_bus import CommandBus
from dsync_services.gateway.health import healthz, ready_checks
from dsync_services.gateway.metrics import GatewayMetrics
from dsync_services.gateway.middlewares import (
    SCIM_PREFIX,
    auth_middleware,
    metrics_middleware,
    throttle_middleware,
)
from dsync_services.gateway.negative_cache import NegativeCache
from dsync_services.gateway.outcomes import OutcomeWaiter
from dsync_services.gateway.request_ids import request_id_middleware
from dsync_services.gateway.scim_http import scim_errors_middleware
from dsync_services.gateway.settings import GatewaySettings
from dsync_services.gateway.tenant_auth import TenantAuthenticator
from dsync_services.gateway.tenant_limits import LimitsCache, LimitSettings
from dsync_services.gateway.throttle import Throttle
from dsync_services.gateway.token_usage import TokenUsage
from dsync_services.roles import api as roles_api
from dsync_services.sessions import api as sessions_api


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings: GatewaySettings = app["settings"]
    await migrate_dsn(settings.postgres.database_url)
    await ensure_topics(settings.kafka)
    pool = await create_pool(
        settings.postgres, acquire_timeout_s=settings.extra.db_acquire_timeout_s,
        server_settings={"statement_timeout": str(settings.extra.db_statement_timeout_ms)})
    producer = build_producer(settings.kafka, client_id="gateway")
    await producer.start()
    linger_ms = settings.kafka.kafka_command_linger_ms
    batching = (build_producer(settings.kafka, client_id="gateway-batching",
                               linger_ms=linger_ms) if linger_ms else None)
    if batching is not None:
        await batching.start()
    waiter = OutcomeWaiter(pool, settings.postgres.database_url)
    await waiter.start()
    auth = TenantAuthenticator(
        pool, settings.postgres.database_url, settings.extra.token_cache_ttl_s,
        NegativeCache(settings.extra.token_negative_cache_size,
                      settings.extra.token_negative_cache_ttl_s),
        on_lookup=app["metrics"].token_lookups.inc)
    await auth.start()
    app["pool"], app["producer"], app["auth"] = pool, producer, auth
    app["token_usage"] = TokenUsage(pool)
    app["limits"] = LimitsCache(pool, app["limit_settings"])
    app["stored_counts"] = quotas.StoredCounts(pool)
    app["bus"] = CommandBus(pool, producer, waiter, settings.kafka.commands_topic,
                            settings.http.write_timeout_s, settings.kafka.kafka_idle_pause,
                            max_message_bytes=settings.kafka.kafka_max_message_bytes,
                            outcome_seconds=app["metrics"].write_outcome,
                            tracing=app["tracing"], batching_producer=batching)
    yield
    if app["bus"].wakeups is not None:
        await app["bus"].wakeups.stop()
    await app["token_usage"].stop()
    app["tracing"].shutdown()
    await auth.stop()
    await waiter.stop()
    await producer.stop()
    if batching is not None:
        await batching.stop()
    await pool.close()


def create_app(settings: GatewaySettings) -> web.Application:
    app = web.Application(middlewares=[request_id_middleware, metrics_middleware,
                                       auth_middleware, throttle_middleware,
                                       scim_errors_middleware],
                          client_max_size=settings.extra.max_body_bytes)
    app["settings"] = settings
    app["limit_settings"] = LimitSettings()
    app["throttle"] = Throttle()
    request_ids.setup(app)
    metrics = GatewayMetrics()
    app["metrics"] = metrics
    app["tracing"] = setup_tracing("gateway")
    app.cleanup_ctx.append(_resources)
    app.router.add_get("/healthz", healthz)
    add_probe_routes(app, lambda: ready_checks(app))
    app.router.add_get("/metrics", metrics_handler(metrics.registry))
    admin_tenants.add_routes(app)
    admin_operations.add_routes(app)
    admin_limits.add_routes(app)
    openapi.add_routes(app)
    scim_users.add_routes(app, SCIM_PREFIX)
    scim_groups.add_routes(app, SCIM_PREFIX)
    scim_queries.add_routes(app, SCIM_PREFIX)
    scim_discovery.add_routes(app, SCIM_PREFIX)
    scim_bulk.add_routes(app, SCIM_PREFIX)
    roles_api.setup(app)
    sessions_api.setup(app)
    fanout_api.setup(app)
    console.setup(app)
    return app
