"""`GET /admin/v1/openapi.json`: the OpenAPI 3.1 document of the admin API.

The document is the checked-in `admin_openapi.json` beside this module, served as is
(admin token required, like every `/admin/` call). A test validates it with
`openapi-spec-validator` and fails, naming the route, when a registered admin route is
missing from it or it lists a route the gateway does not serve.
"""
from __future__ import annotations

from importlib import resources

from aiohttp import web

PATH = "/admin/v1/openapi.json"


def document_text() -> str:
    return resources.files("dsync_services.gateway").joinpath("admin_openapi.json").read_text()


def add_routes(app: web.Application) -> None:
    body = document_text().encode()

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get(PATH, openapi)
