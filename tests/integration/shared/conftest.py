"""Fixtures for the shared-code tests: a schema holding only the messaging tables, a consumer-side
broker, and throwaway RabbitMQ users (made with ``rabbitmqctl``, removed afterwards)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest
import pytest_asyncio

from shared import messages as m
from shared.amqp import Broker
from shared.config import BrokerUsers
from tests.conftest import Parked, messaging_schema, queue_brokers
from tests.support.helpers import eventually

SCHEMA = "messaging_test"
QUEUE = "notifier.user_events"  # bound to platform.events, platform.user.*


@pytest_asyncio.fixture
async def messaging_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a schema with only the shared outbox and processed_messages tables, emptied after."""
    async with messaging_schema(database_url, SCHEMA, "messaging-test") as pool:
        yield pool


QueueBroker = Callable[..., Awaitable[Broker]]

# The consumer mechanics tested here (routing, retries, after-commit) run with verification on and
# guest as every publisher; test_publisher_trust.py is about who may publish.
GUEST_PLAYS_ALL = BrokerUsers(auth="guest", sync="guest", notifier="guest", platform="guest")


@pytest_asyncio.fixture
async def queue_broker(amqp_url: str, amqp_prefix: str) -> AsyncIterator[QueueBroker]:
    """``await queue_broker(url=..., users=..., **broker_options)`` -> a connected broker with QUEUE
    declared (by default guest, trusted as every publisher)."""
    async with queue_brokers(amqp_prefix, [QUEUE]) as make:

        async def trusted(
            url: str = amqp_url, users: BrokerUsers = GUEST_PLAYS_ALL, **options: Any
        ) -> Broker:
            return await make(url, users=users, **options)

        yield trusted


def contact(user_id: str) -> m.UserContactChanged:
    """A contact change of ``user_id``: a message QUEUE receives."""
    return m.UserContactChanged(user_id=user_id, email=f"{user_id}@example.com", locale="de")


async def parked_while_next_handled(
    parked: Parked, handled: list[str], next_user: str, message: m.Message
) -> aio_pika.abc.AbstractIncomingMessage:
    """Waits until the contact change of ``next_user`` is the only one handled, then returns
    ``message`` as QUEUE's dead-letter queue holds it (the first one parked there)."""

    async def next_handled() -> None:
        assert handled == [next_user]

    await eventually(next_handled)
    dead = await parked(QUEUE)
    assert dead[0].message_id == message.message_id
    return dead[0]


async def _rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", *args, cwd="/", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]} failed: {err.decode(errors='replace').strip()}")


@pytest_asyncio.fixture
async def broker_user(amqp_url: str) -> AsyncIterator[Callable[[], Awaitable[tuple[str, str]]]]:
    """``await broker_user()`` -> (user name, AMQP URL) of a new broker user with full permissions."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is needed to create broker users")
    users: list[str] = []
    parts = urlsplit(amqp_url)
    vhost = parts.path[1:] or "/"

    async def make() -> tuple[str, str]:
        name = f"calsync-t-{uuid.uuid4().hex[:8]}"
        await _rabbitmqctl("add_user", name, name)
        users.append(name)
        await _rabbitmqctl("set_permissions", "-p", vhost, name, ".*", ".*", ".*")
        netloc = f"{name}:{name}@{parts.hostname}:{parts.port or 5672}"
        return name, urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    yield make
    for name in users:
        await _rabbitmqctl("delete_user", name)
