"""`GET /healthz`: 200 only when PostgreSQL and the broker answer and every required
consumer service has all partitions of its topic assigned (from fresh heartbeats)."""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

TOPIC_PARTITIONS_SQL = """
SELECT service, topic, array_agg(DISTINCT p) AS parts
  FROM service_heartbeats, unnest(partitions) AS p
 WHERE updated_at > now() - make_interval(secs => $1)
 GROUP BY service, topic
"""


async def check(app: web.Application) -> dict[str, Any]:
    settings = app["settings"]
    checks: dict[str, Any] = {}
    try:
        rows = await app["pool"].fetch(TOPIC_PARTITIONS_SQL, settings.extra.heartbeat_stale_s,
                                       timeout=2.0)  # asyncpg cancels server-side
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"unreachable: {type(exc).__name__}"
        rows = []
    try:
        await asyncio.wait_for(app["producer"].client.fetch_all_metadata(), 2.0)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"unreachable: {type(exc).__name__}"
    cluster = app["producer"].client.cluster
    expected = {}
    for topic, configured in ((settings.kafka.commands_topic,
                               settings.kafka.kafka_commands_partitions),
                              (settings.kafka.events_topic,
                               settings.kafka.kafka_events_partitions)):
        actual = cluster.partitions_for_topic(topic)  # the broker's count is what matters
        expected[topic] = len(actual) if actual else configured
    assigned = {r["service"]: (r["topic"], len(r["parts"])) for r in rows}
    for service in filter(None, settings.extra.health_required_services.split(",")):
        service = service.strip()
        topic, count = assigned.get(service, ("", 0))
        want = expected.get(topic, 0)
        checks[service] = "ok" if want and count >= want else f"{count} partitions assigned"
    return checks


async def healthz(request: web.Request) -> web.Response:
    checks = await check(request.app)
    ok = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ok else "unavailable", "checks": checks},
                             status=200 if ok else 503)
