"""Several broker addresses against the single test broker (no cluster needed): an unreachable first
address is skipped, and a consumer follows its connection to the next address when its link is cut."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest_asyncio

from shared import messages as m
from shared.amqp import Broker
from shared.consumer import Delivery
from tests.conftest import TEST_RETRY_DELAYS_MS
from tests.integration.cluster.conftest import QUEUE
from tests.support.helpers import TcpProxy, eventually


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{port}"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture
async def two_links(amqp_url: str) -> AsyncIterator[tuple[TcpProxy, TcpProxy]]:
    """Two proxies in front of the test broker, standing in for two nodes of a cluster."""
    parts = urlsplit(amqp_url)
    links = (
        TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672),
        TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672),
    )
    for link in links:
        await link.start()
    yield links
    for link in links:
        await link.stop()


async def test_unreachable_first_address_is_skipped(amqp_url: str, amqp_prefix: str) -> None:
    """A broker whose first address refuses connections connects through the next and publishes."""
    url = f"{_via(amqp_url, _closed_port())},{amqp_url}"
    broker = Broker(url, prefix=amqp_prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, name="second-address")
    await broker.connect()
    try:
        assert urlsplit(broker.address).port == (urlsplit(amqp_url).port or 5672)
        await broker.declare([QUEUE])
        await broker.publish(m.UserContactChanged(user_id="u-1", email="u-1@example.com"))
    finally:
        await broker.close()


async def test_consumer_follows_its_connection_to_the_next_address(
    amqp_url: str,
    amqp_prefix: str,
    broker: Broker,
    messaging_pool: asyncpg.Pool,
    two_links: tuple[TcpProxy, TcpProxy],
) -> None:
    """Cut off from its first address, a consuming broker reconnects through the second and keeps consuming."""
    first, second = two_links
    handled: list[str] = []

    async def on_contact(message: m.UserContactChanged, conn: asyncpg.Connection, delivery: Delivery) -> None:
        handled.append(message.user_id)

    url = f"{_via(amqp_url, first.port)},{_via(amqp_url, second.port)}"
    consumer = Broker(url, prefix=amqp_prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, name="two-addresses")
    await consumer.connect()
    try:
        await consumer.declare([QUEUE])
        await consumer.consume(QUEUE, {m.UserContactChanged: on_contact}, pool=messaging_pool)
        assert urlsplit(consumer.address).port == first.port
        first.cut()

        async def moved() -> None:
            assert consumer.connected
            assert urlsplit(consumer.address).port == second.port

        await eventually(moved, timeout=20, interval=0.1)
        await broker.publish(m.UserContactChanged(user_id="u-after-cut", email="u@example.com"))

        async def consumed() -> None:
            assert handled == ["u-after-cut"]

        await eventually(consumed, timeout=20)
    finally:
        await consumer.close()
