"""The notifier's composition root: builds every dependency and starts every loop (the consumers of
the three queues, the delivery job, which also sends the reminders) in cleanup contexts.

``overrides`` (tests): ``clock`` (a ``ManualClock``), ``templates`` (a ``Templates``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from services.notifier.adapters.auth_links import AuthLinks
from services.notifier.adapters.metrics import Metrics
from services.notifier.adapters.rendering import Templates
from services.notifier.adapters.smtp import SmtpSender
from services.notifier.config import NotifierConfig
from services.notifier.domain.emails import EmailSettings
from services.notifier.entrypoints import consumers, http_handlers
from services.notifier.entrypoints.jobs import DeliveryWorker
from services.notifier.keys import CLOCK, CONFIG, OUTBOX, TEMPLATES, WORKER
from services.notifier.usecases.delivery_outcomes import DeliveryPolicy, Outcomes
from services.notifier.usecases.send_due import DeliveryDeps
from shared.clock import SystemClock
from shared.landing import Link
from shared.outbox import Outbox
from shared.runtime import BROKER, HTTP, POOL, base_app
from shared.web import REGISTRY, add_landing_page


def create_app(config: NotifierConfig, *, overrides: dict[str, Any] | None = None) -> web.Application:
    overrides = overrides or {}
    clock = overrides.get("clock") or SystemClock()
    outbox = Outbox(clock)
    app = base_app(config.common, migrations=Path(__file__).parent / "migrations", outbox=outbox)
    app[CONFIG] = config
    app[CLOCK] = clock
    app[OUTBOX] = outbox
    app[TEMPLATES] = overrides.get("templates") or Templates()
    http_handlers.add_routes(app)
    add_landing_page(
        app,
        title="calsync notifier",
        description="Emails users when their Google connection needs attention, with a link to reconnect,"
        " and serves the stop-reminders page those emails link to.",
        links=[Link("Stop reminders", "/reminders/stop", "reached from a signed email link")],
    )
    app.cleanup_ctx.append(_consumers)
    app.cleanup_ctx.append(_delivery)
    return app


async def _consumers(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    deps = consumers.ConsumerDeps(
        clock=app[CLOCK], reconnected_email=config.reconnected_email, operator_email=config.operator_email
    )
    routes = consumers.routing_table(deps)
    for queue in consumers.QUEUE_TYPES:
        await app[BROKER].consume(queue, consumers.routes_for(queue, routes), pool=app[POOL])
    yield


def _delivery_deps(app: web.Application) -> DeliveryDeps:
    config, clock, metrics = app[CONFIG], app[CLOCK], Metrics(app[REGISTRY])
    policy = DeliveryPolicy(
        mail_from=config.mail_from,
        max_attempts=config.delivery_max_attempts,
        retry_delays=config.delivery_retry_delays,
        reminder_offsets=config.reminder_offsets,
        stale_after=config.sending_stale_after,
    )
    return DeliveryDeps(
        pool=app[POOL],
        clock=clock,
        emails=_email_settings(config),
        policy=policy,
        templates=app[TEMPLATES],
        sender=SmtpSender(config.smtp),
        links=AuthLinks(app[HTTP], base_url=config.auth_api_url, service_token=config.common.service_token),
        metrics=metrics,
        outcomes=Outcomes(clock, policy, metrics, app[OUTBOX]),
    )


def _email_settings(config: NotifierConfig) -> EmailSettings:
    return EmailSettings(
        product_name=config.product_name,
        operator_email=config.operator_email,
        operator_locale=config.operator_locale,
        reminder_count=len(config.reminder_days),
        stop_page_url=config.common.public_url(http_handlers.STOP_PATH),
        link_secret=config.link_secret,
    )


async def _delivery(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    worker = DeliveryWorker(_delivery_deps(app), poll_interval=config.delivery_poll_interval)
    app[WORKER] = worker
    tasks = [
        asyncio.create_task(worker.run(), name=f"delivery-{number}")
        for number in range(config.delivery_concurrency)
    ]
    yield
    worker.stop()
    _, pending = await asyncio.wait(tasks, timeout=config.smtp.timeout + 5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
