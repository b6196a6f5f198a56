"""The skeleton every service's composition root starts from.

``base_app`` wires what all services have: the database pool and migrations, the broker with the
service's queues declared, the outbox relay, one shared HTTP client session, and health, readiness
and metrics on the internal listener (``INTERNAL_HOST``/``INTERNAL_PORT``, never the public port).
The service's ``create_app`` then adds its own routes, consumers and jobs. ``run`` is what
``__main__`` calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry

from shared import db
from shared.amqp import Broker
from shared.config import CommonConfig
from shared.logs import configure_logging
from shared.outbox import Outbox, OutboxRelay, relay_context
from shared.topology import queues_to_declare
from shared.web import REGISTRY, add_readiness_check, setup_http

COMMON = web.AppKey("common_config", CommonConfig)
POOL = web.AppKey("pool", asyncpg.Pool)
BROKER = web.AppKey("broker", Broker)
RELAY = web.AppKey("outbox_relay", OutboxRelay)
HTTP = web.AppKey("http_client", aiohttp.ClientSession)
TASKS = web.AppKey("background_tasks", list)


def base_app(common: CommonConfig, *, migrations: Path, outbox: Outbox | None = None) -> web.Application:
    """An application with pool, broker, outbox relay, HTTP client, health, readiness and metrics.

    The relay is attached to the service's ``outbox`` (if given) once it runs."""
    app = web.Application(client_max_size=1024 * 1024)
    app[COMMON] = common
    app[TASKS] = []
    setup_http(
        app,
        service_token=common.service_token,
        registry=CollectorRegistry(),
        internal_host=common.internal_host,
        internal_port=common.internal_port,
    )
    app.cleanup_ctx.append(
        db.pool_context(
            POOL,
            dsn=common.database_url,
            schema=common.service,
            migrations=migrations,
            application_name=common.service,
            max_size=common.db_pool_size,
        )
    )
    app.cleanup_ctx.append(_broker_context)
    app.cleanup_ctx.append(
        relay_context(POOL, BROKER, RELAY, poll_interval=common.outbox_poll_interval, outbox=outbox)
    )
    app.cleanup_ctx.append(_http_client_context)
    app.cleanup_ctx.append(_tasks_context)
    add_readiness_check(app, "database", db.DatabaseProbe(lambda: app[POOL]))
    add_readiness_check(app, "broker", lambda: _broker_ready(app[BROKER]))
    return app


async def _broker_context(app: web.Application) -> AsyncIterator[None]:
    common = app[COMMON]
    broker = Broker(
        common.amqp_url,
        prefix=common.amqp_prefix,
        retry_delays_ms=common.retry_delays_ms,
        name=common.service,
        registry=app[REGISTRY],
        users=common.broker_users,
    )
    await broker.connect()
    try:
        await broker.declare(queues_to_declare(common.service))
        app[BROKER] = broker
        yield
    finally:
        await broker.close()


async def _broker_ready(broker: Broker) -> None:
    if not broker.connected:
        raise ConnectionError("broker connection is closed")


async def _http_client_context(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        app[HTTP] = session
        yield


async def _tasks_context(app: web.Application) -> AsyncIterator[None]:
    yield
    tasks: list[asyncio.Task[Any]] = app[TASKS]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def start_task(app: web.Application, coro: Coroutine[Any, Any, Any], name: str) -> None:
    """Run ``coro`` in the background for the app's lifetime (cancelled on shutdown)."""
    app[TASKS].append(asyncio.create_task(coro, name=name))


def background_context(
    factory: Callable[[web.Application], list[tuple[str, Coroutine[Any, Any, Any]]]],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that starts the coroutines ``factory(app)`` returns and stops them on exit."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(coro, name=name) for name, coro in factory(app)]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return ctx


def run(app_factory: Callable[[], web.Application], common: CommonConfig) -> None:
    """Configure logging and serve the app until SIGINT/SIGTERM."""
    configure_logging(common.log_level, log_format=common.log_format)
    web.run_app(
        app_factory(),
        host=common.http_host,
        port=common.http_port,
        access_log=None,
        print=None,
        shutdown_timeout=10,
    )
