"""sync's composition root: every dependency and every loop, outbound and inbound.

bus → entrypoints/consumers (record the newest version as pending) → entrypoints/jobs (writer
workers claim due rows) → usecases/writer (token, Google, outcome) → adapters (SQL, Calendar, auth).
Inbound: entrypoints/jobs (inbound workers claim due calendars) → usecases/inbound_sync (events.list,
what changes mean, outbox) → adapters. Pushes: entrypoints/webhooks → usecases/push_receiver →
push_intake (a sync request); entrypoints/jobs (channel keeper) → usecases/channels (watch, renew, stop).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from services.sync import keys
from services.sync.adapters.auth_tokens import AuthTokens
from services.sync.adapters.google_calendar import EventReader, EventWriter, WatchChannels
from services.sync.adapters.metrics import SyncMetrics
from services.sync.config import SyncConfig
from services.sync.entrypoints import consumers, http_handlers, webhooks
from services.sync.entrypoints.jobs import ChannelKeeper, InboundSyncs, Writer
from services.sync.usecases.calendars import ChoiceDeps, ResolveDeps
from services.sync.usecases.channels import ChannelDeps
from services.sync.usecases.connection_test import ProbeDeps
from services.sync.usecases.inbound_sync import InboundDeps
from services.sync.usecases.push_intake import PushIntake
from services.sync.usecases.push_receiver import ChannelCache, ReceiverDeps
from services.sync.usecases.writer import WriterDeps
from shared.clock import Clock, SystemClock
from shared.google.calendar import GoogleCalendar
from shared.outbox import Outbox
from shared.rpc import RpcClient
from shared.runtime import BROKER, HTTP, POOL, base_app
from shared.web import REGISTRY, add_landing_page, quiet_access_log

log = structlog.get_logger(__name__)

CONFIG = keys.CONFIG  # kept for callers of the skeleton


def create_app(config: SyncConfig, *, overrides: dict[str, Any] | None = None) -> web.Application:
    """``overrides``: ``clock`` (a ``shared.clock.Clock``) for tests."""
    clock: Clock = (overrides or {}).get("clock") or SystemClock()
    outbox = Outbox(clock)
    app = base_app(config.common, migrations=Path(__file__).parent / "migrations", outbox=outbox)
    app[keys.CONFIG] = config
    app[keys.CLOCK] = clock
    app[keys.OUTBOX] = outbox
    app.router.add_routes(http_handlers.routes(POOL, keys.CHOICE, keys.PROBE))
    app.router.add_routes(webhooks.routes(keys.RECEIVER, keys.METRICS))
    quiet_access_log(app, webhooks.PATH)  # calsync_sync_push_notifications_total counts each one
    add_landing_page(
        app,
        title="calsync sync",
        description="Writes the platform's appointments into each user's chosen Google Calendar exactly"
        " once, keeps them while a connection is broken and replays them after reconnecting, and reads back"
        " what users change in Google (push notifications, incremental sync). Its service API (service"
        " token) shows each appointment's sync state and each user's sync health.",
    )
    app.cleanup_ctx.append(_outbound)
    return app


def _watch_channels(config: SyncConfig, calendar: GoogleCalendar) -> WatchChannels:
    """Google's watch calls for the channel keeper (a warning when pushes are off)."""
    channels = config.channels
    if channels.webhook_url is None:
        log.warning(
            "inbound_pushes_off",
            detail="SYNC_WEBHOOK_URL is not set: no watch channels are made, only the safety-net sync"
            " reads Google",
        )
    ttl = int(channels.ttl.total_seconds())
    return WatchChannels(calendar, address=channels.webhook_url or "", ttl_seconds=ttl)


async def _outbound(app: web.Application) -> AsyncIterator[None]:
    config, clock, outbox = app[keys.CONFIG], app[keys.CLOCK], app[keys.OUTBOX]
    pool, broker = app[POOL], app[BROKER]
    rpc = RpcClient(broker)
    await rpc.start()
    tokens = AuthTokens(rpc, clock, timeout=config.writer.token_timeout)
    calendar = GoogleCalendar(
        app[HTTP], config.google.calendar_base_url, timeout=config.writer.google_timeout
    )
    google = EventWriter(calendar, send_updates=config.writer.send_updates)
    owner = f"{config.common.service}-{uuid.uuid4().hex[:12]}"
    metrics = app[keys.METRICS] = SyncMetrics(app[REGISTRY])
    deps = WriterDeps(pool, tokens, google, clock, config.writer, config.mapping, outbox, metrics, owner)
    resolve = ResolveDeps(pool, tokens, google, clock, retry_in=config.writer.lease)
    writer = Writer(deps, resolve, workers=config.writer.workers)
    app[keys.WRITER] = writer
    app[keys.CHOICE] = ChoiceDeps(pool, tokens, google, clock, outbox, writer.wake)
    app[keys.PROBE] = ProbeDeps(
        pool,
        tokens,
        google,
        clock,
        config.mapping.source_tag,
        pushes_on=config.channels.webhook_url is not None,
        push_wait=config.channels.test_push_wait,
    )
    reader = EventReader(calendar, page_size=config.inbound.page_size)
    inbound = InboundDeps(
        pool, tokens, reader, clock, config.inbound, config.mapping.source_tag, outbox, metrics, f"{owner}-in"
    )
    intake = PushIntake(pool, clock, spacing=config.inbound.follow_up_after)
    app[keys.RECEIVER] = ReceiverDeps(
        pool, clock, ChannelCache(pool, ttl=config.channels.cache_seconds), intake
    )
    watch = _watch_channels(config, calendar)
    keeper = ChannelKeeper(
        ChannelDeps(pool, tokens, watch, clock, config.channels, outbox, metrics), config.channels.interval
    )
    loops = [*writer.loops(), *InboundSyncs(inbound, config.inbound.poll_interval).loops(), *keeper.loops()]
    tasks = [asyncio.create_task(coro, name=name) for name, coro in loops]
    consumer_deps = consumers.ConsumerDeps(clock, outbox, writer.wake, tokens.forget, keeper.wake)
    for queue, table in consumers.routes(consumer_deps).items():
        await broker.consume(queue, table, pool=pool)
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await intake.drain()
