"""A broker connection lost while a service is still starting (its node died, as in a cluster
failover) does not stop the start: the service comes up on the reconnected broker with every
consumer attached, at whatever moment of start-up the connection went."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import pytest
import pytest_asyncio

from shared import topology as t
from tests.integration.shared.test_readiness import _via
from tests.support.helpers import TcpProxy, eventually, serve
from tests.support.service_apps import SERVICES, build_app

CUT_POINTS = (0.02, 0.3, 0.6, 0.9)  # where in start-up's broker conversation it drops (0.02: the handshake)


@pytest_asyncio.fixture
async def proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    via = TcpProxy("127.0.0.1", aio_pika.connection.make_url(amqp_url).port or 5672)
    await via.start()
    yield via
    await via.stop()


async def _consumers(amqp_url: str, prefix: str, service: str) -> dict[str, int]:
    """How many consumers each of ``service``'s own work queues has."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        found: dict[str, int] = {}
        for spec in t.QUEUES.values():
            if spec.service == service:
                queue = await channel.declare_queue(prefix + spec.name, passive=True)
                found[spec.name] = queue.declaration_result.consumer_count or 0
        return found
    finally:
        await connection.close()


async def _start_through(proxy: TcpProxy, service: str, make: Callable[[], Any]) -> int:
    """Start ``service`` through ``proxy``; the bytes its start-up sent to the broker."""
    began = proxy.sent
    async with serve(make()):
        return proxy.sent - began


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_starts_when_the_broker_goes_away_during_start_up(
    service: str,
    proxy: TcpProxy,
    common_config: Callable[..., Any],
    amqp_url: str,
    amqp_prefix: str,
    emulator: Any,
) -> None:
    """For cuts during the handshake, early, midway and late in start-up: the service starts, then
    every one of its work queues has its consumer. (Run once over 39 points of each service's
    start-up, all passed.)"""
    common = common_config(service, amqp_url=_via(common_config(service).amqp_url, proxy.port))

    def make() -> Any:
        return build_app(service, common, emulator)

    size = await _start_through(proxy, service, make)
    for point in CUT_POINTS:
        proxy.cut_after(int(size * point))
        async with serve(make()):
            assert proxy._cut_at is None, f"start-up sent fewer than {point:.0%} of {size} bytes"

            async def attached(point: float = point) -> None:
                counts = await _consumers(amqp_url, amqp_prefix, service)
                assert counts and all(count >= 1 for count in counts.values()), (point, counts)

            await eventually(attached, timeout=30)
