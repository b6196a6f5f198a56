"""Fixtures shared by every tier: a private database per test session, a private AMQP name prefix
per test, the Google emulator, and helpers to start services in-process on real ports.

Isolation: each pytest session creates its own PostgreSQL database (dropped at the end) and every
test truncates the service tables it touched; every test gets a unique AMQP prefix, and all
exchanges and queues under it are deleted afterwards, so nothing piles up in the broker.

Broker users: every in-process service connects as its own broker user with publisher verification
on (docs/security.md), and the ``broker`` fixture publishes each message as its documented publisher
(the platform as ``calsync-platform``); probes and declarations use the admin ``AMQP_URL`` (guest).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

import aio_pika
import asyncpg
import pytest
import pytest_asyncio

from shared import topology
from shared.amqp import Broker
from shared.config import DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL, BrokerUsers, CommonConfig, Env, GoogleConfig
from shared.db import SHARED_MIGRATIONS, close_pool, create_pool, migrate
from tests.service.auth.calendar_support import StartAuthAndSync, auth_and_sync
from tests.service.auth.flow import StartAuth, running_auth
from tests.support.bus import BrokerUsersMissing, PublishingBroker, check_logins, user_url
from tests.support.helpers import Probe, bind_probe, eventually
from tests.support.service_apps import google_for

SERVICE_SCHEMAS = ("auth", "sync", "notifier")
TEST_RETRY_DELAYS_MS = (50, 200)


async def empty_service_tables(pool: asyncpg.Pool) -> None:
    """Truncate every service table (the migration ledger stays)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables"
            " WHERE schemaname = ANY($1::text[]) AND tablename <> 'schema_migrations'",
            list(SERVICE_SCHEMAS),
        )
        if rows:
            await conn.execute(f"TRUNCATE {', '.join(r['t'] for r in rows)} RESTART IDENTITY CASCADE")


async def delete_prefix(url: str, prefix: str, queues: Iterable[str] | None = None) -> None:
    """Delete the exchanges and queues under ``prefix`` (``queues``: those not declared by a service)."""
    broker = Broker(url, prefix=prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS)
    await broker.connect()
    try:
        await broker.delete_topology(queues)
    finally:
        await broker.close()


@contextlib.asynccontextmanager
async def messaging_schema(
    database_url: str, schema: str, application_name: str
) -> AsyncIterator[asyncpg.Pool]:
    """A pool on ``schema`` with only the shared outbox and processed_messages tables, emptied on exit."""
    pool = await create_pool(database_url, schema=schema, application_name=application_name)
    await migrate(pool, schema, [SHARED_MIGRATIONS])
    yield pool
    await pool.execute("TRUNCATE outbox, processed_messages RESTART IDENTITY")
    await close_pool(pool)


QueueBrokers = Callable[..., Awaitable[Broker]]


@contextlib.asynccontextmanager
async def queue_brokers(prefix: str, queues: Iterable[str]) -> AsyncIterator[QueueBrokers]:
    """``await make(url, **broker_options)`` -> a connected broker with ``queues`` declared; all closed on exit."""
    made: list[Broker] = []

    async def make(url: str, **options: Any) -> Broker:
        broker = Broker(url, prefix=prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, **options)
        made.append(broker)
        await broker.connect()
        await broker.declare(list(queues))
        return broker

    try:
        yield make
    finally:
        for broker in made:
            await broker.close()


def _admin_dsn() -> str:
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def _with_database(dsn: str, name: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


@pytest_asyncio.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh database for this test session, dropped afterwards."""
    name = f"calsync_t_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(_admin_dsn(), name)
    admin = await asyncpg.connect(_admin_dsn())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The admin AMQP URL (guest): declarations, probes and assertions only."""
    return os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)


@pytest_asyncio.fixture(scope="session")
async def broker_users(amqp_url: str) -> BrokerUsers:
    """The broker users of docs/security.md (``AMQP_USER_*`` renames them), verification on; the test
    fails at once with how to create them if any cannot log in."""
    users = BrokerUsers.from_env(Env({k: v for k, v in os.environ.items() if k.startswith("AMQP_USER_")}))
    try:
        await check_logins(amqp_url, users)
    except BrokerUsersMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    return users


@pytest_asyncio.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test database for assertions (search_path covers every service schema)."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=4,
        server_settings={"search_path": ",".join(SERVICE_SCHEMAS), "timezone": "UTC"},
    )
    assert pool is not None
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def clean_db(db: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """The assertion pool; every service table is emptied after the test."""
    yield db
    await empty_service_tables(db)


@pytest_asyncio.fixture
async def amqp_prefix(amqp_url: str) -> AsyncIterator[str]:
    """A unique name prefix for this test's exchanges and queues; all of them are deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    yield prefix
    await delete_prefix(amqp_url, prefix)


@pytest.fixture
def service_token() -> str:
    return "svc-" + secrets.token_urlsafe(16)


@pytest.fixture
def common_config(
    database_url: str,
    amqp_url: str,
    amqp_prefix: str,
    service_token: str,
    clean_db: asyncpg.Pool,
    broker_users: BrokerUsers,
) -> Callable[..., CommonConfig]:
    """Build a service's CommonConfig pointing at the test database and prefix, connecting to the
    broker as the service's own user with publisher verification on."""

    def make(service: str, **changes: Any) -> CommonConfig:
        base = CommonConfig(
            service=service,
            database_url=database_url,
            amqp_url=user_url(amqp_url, broker_users.of(service)),
            amqp_prefix=amqp_prefix,
            http_port=0,
            public_base_url="http://127.0.0.1:1",  # replaced by tests that serve public pages
            service_token=service_token,
            retry_delays_ms=TEST_RETRY_DELAYS_MS,
            outbox_poll_interval=0.05,
            broker_users=broker_users,
        )
        return replace(base, **changes)

    return make


@pytest_asyncio.fixture
async def broker(amqp_url: str, amqp_prefix: str, broker_users: BrokerUsers) -> AsyncIterator[Broker]:
    """A test-side broker under the test's prefix, with every exchange declared, that publishes each
    message as its documented publisher's broker user (platform events as the platform)."""
    b = PublishingBroker(
        amqp_url, users=broker_users, prefix=amqp_prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, name="test"
    )
    await b.connect()
    await b.declare()
    yield b
    await b.close()


@pytest_asyncio.fixture
async def amqp_channel(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    yield channel
    await connection.close()


@pytest.fixture
def probe(amqp_channel: aio_pika.abc.AbstractChannel, amqp_prefix: str, broker: Broker) -> Callable[..., Any]:
    """``await probe(exchange, routing_key)`` -> a Probe seeing what is published there."""

    async def make(exchange: str, routing_key: str = "#") -> Probe:
        return await bind_probe(amqp_channel, amqp_prefix + exchange, routing_key)

    return make


@pytest.fixture
def dead_letters(amqp_channel: aio_pika.abc.AbstractChannel, amqp_prefix: str) -> Callable[..., Any]:
    """``await dead_letters(queue)`` -> the messages currently in that queue's dead-letter queue."""

    async def read(queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        dq = await amqp_channel.get_queue(amqp_prefix + topology.dead_queue(queue), ensure=False)
        found = []
        while (msg := await dq.get(no_ack=True, fail=False)) is not None:
            found.append(msg)
        return found

    return read


Messages = list[aio_pika.abc.AbstractIncomingMessage]
Parked = Callable[..., Awaitable[Messages]]


@pytest.fixture
def parked(dead_letters: Callable[..., Any]) -> Parked:
    """``await parked(queue, count=1, timeout=15)`` -> the ``count`` or more messages dead-lettered
    from ``queue`` by then."""

    async def wait(queue: str, count: int = 1, timeout: float = 15.0) -> Messages:
        seen: Messages = []

        async def arrived() -> Messages:
            seen.extend(await dead_letters(queue))
            assert len(seen) >= count, [d.headers.get("x-calsync-reason") for d in seen]
            return seen

        return await eventually(arrived, timeout=timeout)

    return wait


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[Any]:
    """The Google emulator on a free local port."""
    from devtools.google_emulator import GoogleEmulator

    emu = GoogleEmulator()
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
def google_config(emulator: Any) -> GoogleConfig:
    """Our OAuth client settings pointing at the emulator."""
    return google_for(emulator)


@pytest.fixture
def start_auth(common_config: Callable[..., CommonConfig], google_config: GoogleConfig) -> StartAuth:
    """``async with start_auth(clock=..., **config_changes) as auth``: auth on the emulator, other settings."""
    return functools.partial(running_auth, common_config("auth"), google_config)


@pytest.fixture
def start_auth_and_sync(
    common_config: Callable[..., CommonConfig], google_config: GoogleConfig
) -> StartAuthAndSync:
    """``async with start_auth_and_sync(**auth_changes) as (auth, sync)``: auth and sync side by side."""
    return functools.partial(auth_and_sync, common_config, google_config)
