"""docs/openapi.yaml: valid OpenAPI 3.1, and in step with the routes each service's app registers.

Each service's app is built from deploy/env.local as ``make run`` builds it (nothing is started), and
its (method, path) pairs are compared with the paths whose ``x-calsync-services`` name the service;
the internal listener's routes with the paths whose ``x-calsync-listener`` is ``internal``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from devtools.envfile import load_env_file
from shared.internal_http import internal_app
from tests.support.service_apps import SERVICES, build_app_from_env

ROOT = Path(__file__).resolve().parents[3]
OPENAPI = ROOT / "docs" / "openapi.yaml"
PORTS = {"auth": 8081, "sync": 8082, "notifier": 8083}
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")

Route = tuple[str, str]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return loaded


def served(app: web.Application) -> set[Route]:
    """The (METHOD, path) pairs of ``app``, without the HEAD aiohttp adds beside each GET."""
    routes = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource}
    return {(method, path) for method, path in routes if not (method == "HEAD" and ("GET", path) in routes)}


def documented(document: dict[str, Any], service: str, listener: str) -> set[Route]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        if service in item.get("x-calsync-services", ()) and item.get("x-calsync-listener") == listener
        for method in METHODS
        if method in item
    }


def _service_app(service: str) -> web.Application:
    port = PORTS[service]
    env = load_env_file(ROOT / "deploy" / "env.local")
    return build_app_from_env(
        service, {**env, "HTTP_PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    )


def _compare(actual: set[Route], listed: set[Route], where: str) -> None:
    missing = sorted(actual - listed)
    stale = sorted(listed - actual)
    problems = [
        f"route without an entry in docs/openapi.yaml: {method} {path} ({where})" for method, path in missing
    ]
    problems += [
        f"entry in docs/openapi.yaml without a route: {method} {path} ({where})" for method, path in stale
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", SERVICES)
def test_every_public_route_has_its_entry(document: dict[str, Any], service: str) -> None:
    """Each route the service's app registers is documented, and each documented route exists."""
    _compare(
        served(_service_app(service)), documented(document, service, "public"), f"{service}, public port"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_internal_route_has_its_entry(document: dict[str, Any], service: str) -> None:
    """The internal listener's /healthz, /readyz and /metrics are documented for every service."""
    actual = served(internal_app(CollectorRegistry(), {}))
    _compare(actual, documented(document, service, "internal"), f"{service}, internal port")


def test_every_path_names_its_service_and_listener(document: dict[str, Any]) -> None:
    """An entry the route comparison could not see (no service or listener named) is an error too."""
    for path, item in document["paths"].items():
        services = item.get("x-calsync-services") or ()
        assert services and set(services) <= set(SERVICES), f"{path}: x-calsync-services {services!r}"
        assert item.get("x-calsync-listener") in ("public", "internal"), f"{path}: x-calsync-listener"


def test_every_api_route_needs_the_service_token(document: dict[str, Any]) -> None:
    """shared.web checks the service token on every /api/ route: the document says so for each, with its 401."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if path.startswith("/api/") and method in item:
                operation = item[method]
                assert operation.get("security") == [{"serviceToken": []}], f"{method.upper()} {path}"
                assert "401" in operation["responses"], f"{method.upper()} {path}"


def test_openapi_doc_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    """The document validates with openapi-spec-validator (OpenAPI 3.1 schema and semantic checks)."""
    assert document["openapi"].startswith("3.1")
    validate(document)
