"""Readiness follows the real dependencies: 200 while PostgreSQL and RabbitMQ answer, 503 when one
is cut off (through a proxy the test controls, never by stopping the shared servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import pytest_asyncio

from tests.support.helpers import TcpProxy, eventually, serve
from tests.support.service_apps import SERVICES, build_app


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@pytest_asyncio.fixture
async def proxies(database_url: str, amqp_url: str) -> AsyncIterator[dict[str, TcpProxy]]:
    found = {}
    for name, url in (("database", database_url), ("broker", amqp_url)):
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or (5432 if name == "database" else 5672))
        await proxy.start()
        found[name] = proxy
    yield found
    for proxy in found.values():
        await proxy.stop()


async def _status(http: aiohttp.ClientSession, url: str) -> int:
    return (await _readiness(http, url))[0]


async def _readiness(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url + "/readyz") as response:
        return response.status, await response.json()


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("dependency", ["database", "broker"])
async def test_readiness_follows_dependencies(
    service: str,
    dependency: str,
    proxies: dict[str, TcpProxy],
    common_config: Callable[..., Any],
    database_url: str,
    amqp_url: str,
    emulator: Any,
) -> None:
    """Each service is ready while both dependencies answer, not ready once one is cut, ready again after."""
    common = common_config(
        service,
        database_url=_via(database_url, proxies["database"].port),
        amqp_url=_via(amqp_url, proxies["broker"].port),
    )
    app = build_app(service, common, emulator)
    async with serve(app) as served, aiohttp.ClientSession() as http:
        base = served.internal
        assert await _status(http, base) == 200
        proxies[dependency].cut()

        async def not_ready() -> None:
            assert await _status(http, base) == 503

        await eventually(not_ready, timeout=15)
        proxies[dependency].restore()

        async def ready_again() -> None:
            status, report = await _readiness(http, base)
            assert status == 200, report

        # After a partition every pooled connection is made again; on a busy two-core machine that
        # takes a while, and what matters is that readiness comes back on its own.
        await eventually(ready_again, timeout=60)
