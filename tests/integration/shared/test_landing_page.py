"""A service answers ``/`` with a short HTML page (shared.web.add_landing_page): what it is, its
public pages, and where probes and metrics are, instead of a bare 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.landing import Link
from shared.web import add_landing_page, setup_http
from tests.support.helpers import serve
from tests.support.service_apps import SERVICES, build_app


def landing_app() -> web.Application:
    app = web.Application()
    setup_http(app, service_token="svc-test-token", registry=CollectorRegistry())
    add_landing_page(
        app,
        title="calsync auth",
        description="Connects Google accounts <for> the platform & keeps their tokens fresh.",
        links=[("Settings page", "/settings?token=..."), Link("Security events", "/risc", "POST only")],
    )
    return app


async def test_landing_page_names_the_service_its_pages_and_the_internal_port() -> None:
    """GET / answers 200 HTML with the title, the escaped description, each link and the internal port."""
    async with serve(landing_app()) as url, aiohttp.ClientSession() as http, http.get(url + "/") as response:
        page = await response.text()
        assert response.status == 200 and response.content_type == "text/html"
    internal_port = url.internal.rsplit(":", 1)[1].rstrip("/")
    assert "<title>calsync auth</title>" in page and "<h1>calsync auth</h1>" in page
    assert "&lt;for&gt; the platform &amp; keeps" in page and "<for>" not in page
    assert 'href="/settings?token=..."' in page and ">Security events</a>" in page and "POST only" in page
    assert f"internal port {internal_port}" in page and "/readyz" in page


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_answers_its_root_with_a_landing_page(
    service: str, common_config: Callable[..., Any], emulator: Any
) -> None:
    """auth, sync and notifier answer / with a page naming the service instead of a bare 404."""
    async with (
        serve(build_app(service, common_config(service), emulator)) as url,
        aiohttp.ClientSession() as http,
        http.get(url + "/") as response,
    ):
        page = await response.text()
        assert response.status == 200 and response.content_type == "text/html"
    assert f"<h1>calsync {service}</h1>" in page
