"""Console page: pipeline health (consumer lag, outbox backlog, deprovisioning lag, open
ledger work) and the dead-lettered commands with replay (the directory's public `api`)."""
from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from dsync.admin_http import AdminError
from dsync_services.directory import api as directory_api
from dsync_services.gateway.console import pipeline_health
from dsync_services.gateway.console.plumbing import pool, redirect, render
from dsync_services.gateway.health import check


async def health_page(request: web.Request) -> web.Response:
    kafka = request.config_dict["settings"].kafka
    lag = await pipeline_health.consumer_lag(kafka)
    figures = await pipeline_health.database_figures(pool(request))
    checks, _ = await check(request.config_dict)  # type: ignore[arg-type]
    try:
        dlq = await directory_api.dead_letters(kafka)
        dlq_error = ""
    except Exception as exc:  # noqa: BLE001 - the page says the DLQ could not be read
        dlq, dlq_error = [], f"The dead-letter topic could not be read ({type(exc).__name__})."
    return render(request, "health.html", lag=lag, figures=figures, checks=checks, dlq=dlq,
                  dlq_error=dlq_error, info=request.query.get("info", ""))


async def replay(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        offsets = {int(str(v)) for v in form.getall("offset", [])}
    except ValueError:
        raise AdminError(400, "invalid_value", "offsets must be numbers") from None
    if not offsets:
        raise AdminError(400, "invalid_value", "Choose at least one dead-lettered command.")
    n = await directory_api.replay(request.config_dict["settings"].kafka, offsets)
    info = f"Replayed {n} command{'s' * (n != 1)} to the commands topic."
    raise redirect(f"/console/health?{urlencode({'info': info})}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", health_page)
    app.router.add_post("/health/replay", replay)
