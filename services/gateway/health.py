"""The gateway's health endpoints.

- `GET /healthz`: the whole system, as `make run` and load balancers have always used it:
  200 only when PostgreSQL and the broker answer and every required consumer service has
  all partitions of its topic assigned (from fresh heartbeats). `?full=1` adds, per
  service, how many instances report and which partitions they hold.
- `GET /livez`, `GET /readyz` (`dsync.health`): this gateway alone. Ready when it reaches
  PostgreSQL and the broker, whatever the consumers do: a fanout outage or a rebalance
  must not take the gateways out of the load balancer. 503 while draining at shutdown.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from dsync.health import Checks, broker_check, checks_response, database_check

TOPIC_PARTITIONS_SQL = """
SELECT service, topic, array_agg(DISTINCT p) AS parts, count(DISTINCT instance) AS instances
  FROM service_heartbeats LEFT JOIN LATERAL unnest(partitions) AS p ON true
 WHERE updated_at > now() - make_interval(secs => $1)
 GROUP BY service, topic
"""


async def ready_checks(app: web.Application) -> Checks:
    """This gateway can serve: PostgreSQL and the broker answer."""
    return {"database": await database_check(app["pool"]),
            "broker": await broker_check(app["producer"])}


def _expected_partitions(app: web.Application) -> dict[str, int]:
    settings = app["settings"]
    cluster = app["producer"].client.cluster
    expected = {}
    for topic, configured in ((settings.kafka.commands_topic,
                               settings.kafka.kafka_commands_partitions),
                              (settings.kafka.events_topic,
                               settings.kafka.kafka_events_partitions)):
        actual = cluster.partitions_for_topic(topic)  # the broker's count is what matters
        expected[topic] = len(actual) if actual else configured
    return expected


async def check(app: web.Application) -> tuple[Checks, dict[str, Any]]:
    """The whole-system checks of /healthz, and per-service details for `?full=1`."""
    settings = app["settings"]
    checks: Checks = {}
    try:
        rows = await app["pool"].fetch(TOPIC_PARTITIONS_SQL, settings.extra.heartbeat_stale_s,
                                       timeout=2.0)  # asyncpg cancels server-side
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"unreachable: {type(exc).__name__}"
        rows = []
    checks["broker"] = await broker_check(app["producer"])
    expected = _expected_partitions(app)
    reported = {r["service"]: r for r in rows}
    services: dict[str, Any] = {}
    for service in filter(None, settings.extra.health_required_services.split(",")):
        service = service.strip()
        row = reported.get(service)
        parts = sorted(p for p in row["parts"] if p is not None) if row else []
        want = expected.get(row["topic"], 0) if row else 0
        checks[service] = ("ok" if want and len(parts) >= want
                           else f"{len(parts)} partitions assigned")
        services[service] = {"instances": row["instances"] if row else 0,
                             "topic": row["topic"] if row else None,
                             "partitions_assigned": parts, "partitions": want}
    return checks, services


async def healthz(request: web.Request) -> web.Response:
    checks, services = await check(request.app)
    if request.query.get("full") in ("1", "true"):
        ready = await ready_checks(request.app)
        return checks_response(checks, services=services, gateway=ready)
    return checks_response(checks)
