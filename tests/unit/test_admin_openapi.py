"""The admin API's OpenAPI 3.1 document: valid, and exactly the admin routes the gateway
registers (every method of every `/admin/` and `/auth/` route), so a new route without its
documentation fails here with its name."""
from __future__ import annotations

import json
import warnings
from typing import Any

from aiohttp.web_exceptions import NotAppKeyWarning
from openapi_spec_validator import validate

from dsync_services.gateway.app import create_app
from dsync_services.gateway.openapi import document_text
from dsync_services.gateway.settings import GatewaySettings

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _document() -> dict[str, Any]:
    return json.loads(document_text())  # type: ignore[no-any-return]


def _registered() -> set[tuple[str, str]]:
    with warnings.catch_warnings():  # the gateway keys its app by strings (as it runs)
        warnings.simplefilter("ignore", NotAppKeyWarning)
        app = create_app(GatewaySettings())  # wiring only: nothing connects before startup
    return {(route.method.upper(), route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None and route.method != "HEAD"
            and route.resource.canonical.startswith(("/admin/", "/auth/"))}


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items()
            for method in item if method in _METHODS}


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = _document()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_admin_route_is_documented_and_nothing_else() -> None:
    registered, documented = _registered(), _documented(_document())
    missing = sorted(registered - documented)
    assert not missing, ("admin routes missing from services/gateway/admin_openapi.json: "
                         + ", ".join(f"{m} {p}" for m, p in missing))
    extra = sorted(documented - registered)
    assert not extra, ("services/gateway/admin_openapi.json documents routes the gateway "
                       "does not serve: " + ", ".join(f"{m} {p}" for m, p in extra))


def test_every_operation_has_an_id_and_answers() -> None:
    doc = _document()
    ids = [op["operationId"] for item in doc["paths"].values()
           for method, op in item.items() if method in _METHODS]
    assert len(ids) == len(set(ids)) and all(ids)
