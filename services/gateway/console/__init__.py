"""The web console (docs/console.md): server-rendered pages under `/console`, mounted by the
gateway with `setup(app)`. It calls the same functions as the admin API; it has no
business logic of its own beyond presenting it."""
from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from dsync_services.gateway.console import (
    pages_activity,
    pages_directory,
    pages_health,
    pages_setup,
    pages_tenants,
    pages_webhooks,
)
from dsync_services.gateway.console.plumbing import console_middleware, public
from dsync_services.gateway.console.settings import ConsoleSettings

HERE = Path(__file__).parent
PREFIX = "/console"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True, undefined=jinja2.ChainableUndefined)
    env.filters["when"] = lambda ts: ts.strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "—"
    return env


async def _to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(PREFIX + "/")


def setup(app: web.Application) -> None:
    """Mount the console under /console (its own sub-application and middleware)."""
    console = web.Application(middlewares=[console_middleware])
    app["console_jinja"] = _environment()
    app["console_settings"] = ConsoleSettings()
    pages_tenants.add_routes(console)
    pages_activity.add_routes(console)
    pages_directory.add_routes(console)
    pages_webhooks.add_routes(console)
    pages_health.add_routes(console)
    pages_setup.add_routes(console)
    static = public(_static)
    console.router.add_get("/static/{name}", static)
    app.router.add_get(PREFIX, _to_console)
    app.add_subapp(PREFIX, console)


_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = HERE / "static" / name
    if "/" in name or name.startswith(".") or path.suffix not in _STATIC_TYPES \
            or not path.is_file():
        raise web.HTTPNotFound
    return web.Response(body=path.read_bytes(), content_type=_STATIC_TYPES[path.suffix])
