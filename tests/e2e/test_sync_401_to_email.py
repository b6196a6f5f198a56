"""End to end: a grant revoked at Google is discovered by the write that needs it, or by the
calendar's next inbound sync for a user who books nothing. sync gets 401, asks auth for a forced
refresh, auth meets ``invalid_grant`` and publishes grant.disconnected, and the notifier emails the
reason-specific alert; an appointment waits as pending.

auth, sync and the notifier (real apps) run in-process on the emulator and the mail catcher.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest_asyncio

from shared.amqp import Broker
from shared.config import CommonConfig, GoogleConfig
from tests.e2e.support import EMAIL, Chain, StartChain, plain
from tests.service.sync.support import booked, calendar_of, first_sync_done, ours, push_arrived, running_sync
from tests.support.helpers import eventually


async def _state(db: asyncpg.Pool, version: int, state: str, reason: str | None = None) -> None:
    row = await db.fetchrow("SELECT version, state, wait_reason FROM sync.appointments")
    assert row is not None and (row["version"], row["state"]) == (version, state), row
    assert reason is None or row["wait_reason"] == reason, row


@pytest_asyncio.fixture
async def connected(
    start_chain: StartChain, common_config: Callable[..., CommonConfig], google_config: GoogleConfig
) -> AsyncIterator[Chain]:
    """auth, sync and the notifier, with a user connected."""
    async with (
        start_chain() as c,
        running_sync(common_config("sync"), google_config),
    ):
        yield c


async def test_a_write_with_a_revoked_grant_leads_to_the_revoked_email(
    connected: Chain, emulator: Any, broker: Broker, clean_db: asyncpg.Pool
) -> None:
    """The user removed our access in Google: the next appointment change gets 401, the forced
    refresh fails with invalid_grant, and the user receives the "access was removed" email."""
    c = connected
    assert await calendar_of(clean_db, c.user_id) == EMAIL
    await broker.publish(booked("a1", c.user_id))
    await eventually(lambda: _state(clean_db, 1, "synced"))
    emulator.revoke_user(EMAIL)
    await broker.publish(booked("a1", c.user_id, 2))
    alert = await c.mail.wait_for(timeout=15)
    assert "after a password change or when the access was removed" in plain(alert)
    await eventually(lambda: _state(clean_db, 2, "pending"))
    refreshes = [r for r in emulator.requests if r.path == "/token" and r.error == "invalid_grant"]
    assert len(refreshes) == 1
    patches = [r for r in emulator.requests if r.method == "PATCH"]
    assert [r.status for r in patches] == [401]
    assert [e["summary"] for e in ours(emulator, EMAIL)["a1"]] == ["a1 v1"]


async def test_a_revoked_grant_is_found_by_inbound_sync(
    connected: Chain, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """The user removed our access in Google and books nothing: the next inbound sync of their
    calendar leads to the same email."""
    c = connected
    calendar_id = await calendar_of(clean_db, c.user_id)
    await first_sync_done(clean_db, c.user_id)
    emulator.revoke_user(EMAIL)
    await push_arrived(clean_db, c.user_id, calendar_id, c.clock.now())
    alert = await c.mail.wait_for(timeout=15)
    assert "after a password change or when the access was removed" in plain(alert)
    lists = [r.status for r in emulator.requests if r.method == "GET" and r.path.endswith("/events")]
    assert lists[-1] == 401
    refreshes = [r for r in emulator.requests if r.path == "/token" and r.error == "invalid_grant"]
    assert len(refreshes) == 1
