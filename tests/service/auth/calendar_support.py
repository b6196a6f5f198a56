"""auth and sync side by side in-process on the emulator, for the settings page's Calendar section:
auth answers sync's token requests on the bus, and auth's page asks sync's API."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg

from services.auth.config import SyncApiSettings
from services.sync.config import ChannelConfig
from shared.config import CommonConfig, GoogleConfig
from tests.service.auth.flow import Auth, Page, running_auth
from tests.service.sync.support import Sync, running_sync
from tests.support.helpers import eventually

HEADLINE = re.compile(r'<p id="sync-headline">([^<]*)</p>')

StartAuthAndSync = Callable[..., AbstractAsyncContextManager[tuple[Auth, Sync]]]
"""The ``start_auth_and_sync`` fixture: ``auth_and_sync`` with the test's common and Google settings bound."""


@asynccontextmanager
async def auth_and_sync(
    common_config: Callable[..., CommonConfig],
    google: GoogleConfig,
    *,
    channels: ChannelConfig | None = None,
    **auth_changes: Any,
) -> AsyncIterator[tuple[Auth, Sync]]:
    """``channels``: sync's watch channels (its webhook on its own port), none without."""
    async with running_sync(common_config("sync"), google, channels=channels) as sync:
        settings = SyncApiSettings(url=sync.url, timeout=3.0)
        async with running_auth(common_config("auth"), google, sync=settings, **auth_changes) as auth:
            yield auth, sync


def headline(page: Page) -> str:
    """The sync-health sentence of a settings page."""
    match = HEADLINE.search(page.text)
    assert match, "no sync health on the page"
    return html.unescape(match.group(1))


async def synced(db: asyncpg.Pool, count: int, calendar_id: str | None = None) -> None:
    """Wait until ``count`` appointments are synced (into ``calendar_id`` when given)."""

    async def check() -> None:
        rows = await db.fetch("SELECT state, calendar_id FROM sync.appointments")
        assert len(rows) == count, [dict(r) for r in rows]
        assert all(r["state"] == "synced" for r in rows), [dict(r) for r in rows]
        assert calendar_id is None or all(r["calendar_id"] == calendar_id for r in rows)

    await eventually(check)
