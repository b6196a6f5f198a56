"""sync's composition root: shared runtime plus its consumers.

Writing to Google Calendar, watch channels and incremental sync build on this skeleton; today sync
records every appointment change durably (newest version wins) and tracks each user's grant state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from services.sync import consumers
from services.sync.config import SyncConfig
from shared.runtime import BROKER, POOL, base_app

CONFIG = web.AppKey("sync_config", SyncConfig)


def create_app(config: SyncConfig, *, overrides: dict[str, Any] | None = None) -> web.Application:
    app = base_app(config.common, migrations=Path(__file__).parent / "migrations")
    app[CONFIG] = config
    app.cleanup_ctx.append(_consumers)
    return app


async def _consumers(app: web.Application) -> AsyncIterator[None]:
    broker, pool = app[BROKER], app[POOL]
    await broker.consume("sync.appointments", consumers.on_appointment, pool=pool)
    await broker.consume("sync.grant_events", consumers.on_grant_event, pool=pool)
    await broker.consume("sync.user_events", consumers.on_user_event, pool=pool)
    yield
