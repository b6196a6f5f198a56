"""Module-scoped fixtures for the bad-input properties: each test module starts the service it
attacks once (on the session's database, under its own AMQP prefix) and cleans up after itself."""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import aio_pika
import asyncpg
import pytest_asyncio

from shared.amqp import Broker
from shared.clock import SystemClock
from shared.config import BrokerUsers, CommonConfig, GoogleConfig
from tests.conftest import TEST_RETRY_DELAYS_MS, delete_prefix, empty_service_tables
from tests.service.auth.flow import Auth, running_auth
from tests.service.notifier.support import Notifier, running_notifier
from tests.service.sync.support import SyncWorld, running_sync, token_stand_in
from tests.support.bus import PublishingBroker
from tests.support.service_apps import google_for

# In the tests every service connects as guest, so guest plays every documented publisher here;
# any other broker user is a forger.
GUEST_PUBLISHES_ALL = BrokerUsers(auth="guest", sync="guest", notifier="guest", platform="guest", verify=True)


@pytest_asyncio.fixture(scope="module")
async def module_prefix(amqp_url: str) -> AsyncIterator[str]:
    """An AMQP name prefix for this module; its exchanges and queues are deleted afterwards."""
    prefix = f"b{uuid.uuid4().hex[:8]}."
    yield prefix
    await delete_prefix(amqp_url, prefix)


@pytest_asyncio.fixture(scope="module")
async def module_db(db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """The assertion pool; every service table is emptied after the module."""
    yield db
    await empty_service_tables(db)


@pytest_asyncio.fixture(scope="module")
async def module_common(
    database_url: str, amqp_url: str, module_prefix: str, module_db: asyncpg.Pool
) -> CommonConfig:
    return CommonConfig(
        service="test",
        database_url=database_url,
        amqp_url=amqp_url,
        amqp_prefix=module_prefix,
        http_port=0,
        public_base_url="http://127.0.0.1:1",
        service_token="svc-" + secrets.token_urlsafe(16),
        retry_delays_ms=TEST_RETRY_DELAYS_MS,
        outbox_poll_interval=0.05,
        broker_users=GUEST_PUBLISHES_ALL,
    )


@pytest_asyncio.fixture(scope="module")
async def module_emulator() -> AsyncIterator[Any]:
    from devtools.google_emulator import GoogleEmulator

    emulator = GoogleEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest_asyncio.fixture(scope="module")
async def auth_service(module_common: CommonConfig, module_emulator: Any) -> AsyncIterator[Auth]:
    """auth, started once for the module, on the emulator and the wall clock."""
    common = replace(module_common, service="auth")
    async with running_auth(common, google_for(module_emulator)) as service:
        yield service


@pytest_asyncio.fixture(scope="module")
async def notifier_service(module_common: CommonConfig) -> AsyncIterator[Notifier]:
    """The notifier, started once for the module, verifying publishers; it sends no mail here."""
    common = replace(module_common, service="notifier")
    async with running_notifier(
        common, smtp_port=1, auth_url="http://127.0.0.1:1", clock=SystemClock()
    ) as service:
        yield service


@pytest_asyncio.fixture(scope="module")
async def module_bus(amqp_url: str, module_prefix: str) -> AsyncIterator[Broker]:
    """A test-side broker (as guest, the trusted publisher) under the module's prefix."""
    broker = Broker(amqp_url, prefix=module_prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, name="test")
    await broker.connect()
    await broker.declare()
    yield broker
    await broker.close()


@pytest_asyncio.fixture(scope="module")
async def module_channel(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    yield channel
    await connection.close()


@pytest_asyncio.fixture
async def world(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    broker: PublishingBroker,
    clean_db: asyncpg.Pool,
) -> AsyncIterator[SyncWorld]:
    """sync's service-test world (tests/service/sync), per test: the emulator delivers its pushes
    to the sync a test starts."""
    async with token_stand_in(broker, emulator) as tokens:
        start = functools.partial(running_sync, common_config("sync"), google_config)
        yield SyncWorld(start, tokens, emulator, broker, clean_db)
