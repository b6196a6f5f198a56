"""notifier's composition root: shared runtime, the three consumers, the delivery worker, the stop page.

``overrides`` (tests): ``clock`` (a ``ManualClock``), ``templates`` (a ``Templates``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from services.notifier import consumers, http_handlers, service
from services.notifier.config import NotifierConfig
from services.notifier.jobs import DeliveryWorker
from services.notifier.links import AuthLinks
from services.notifier.outcomes import Metrics
from services.notifier.rendering import Templates
from services.notifier.senders import SmtpSender
from shared.clock import SystemClock
from shared.runtime import BROKER, HTTP, POOL, RELAY, base_app
from shared.web import REGISTRY

CONFIG = http_handlers.CONFIG
WORKER = web.AppKey("delivery_worker", DeliveryWorker)


def create_app(config: NotifierConfig, *, overrides: dict[str, Any] | None = None) -> web.Application:
    overrides = overrides or {}
    app = base_app(config.common, migrations=Path(__file__).parent / "migrations")
    app[CONFIG] = config
    app[http_handlers.CLOCK] = overrides.get("clock") or SystemClock()
    app[http_handlers.TEMPLATES] = overrides.get("templates") or Templates()
    http_handlers.add_routes(app)
    app.cleanup_ctx.append(_consumers)
    app.cleanup_ctx.append(_delivery)
    return app


async def _consumers(app: web.Application) -> AsyncIterator[None]:
    config, clock = app[CONFIG], app[http_handlers.CLOCK]
    policy = service.Policy(reconnected_email=config.reconnected_email, operator_email=config.operator_email)
    for queue in consumers.ACCEPTED:
        await app[BROKER].consume(queue, consumers.handler(queue, clock=clock, policy=policy), pool=app[POOL])
    yield


async def _delivery(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    worker = DeliveryWorker(
        pool=app[POOL],
        clock=app[http_handlers.CLOCK],
        config=config,
        templates=app[http_handlers.TEMPLATES],
        sender=SmtpSender(config.smtp),
        links=AuthLinks(app[HTTP], base_url=config.auth_api_url, service_token=config.common.service_token),
        metrics=Metrics(app[REGISTRY]),
        wake_relay=app[RELAY].wake,
    )
    app[WORKER] = worker
    tasks = [
        asyncio.create_task(worker.run(), name=f"delivery-{n}") for n in range(config.delivery_concurrency)
    ]
    yield
    worker.stop()
    _, pending = await asyncio.wait(tasks, timeout=config.smtp.timeout + 5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
