"""End to end: a grant revoked at Google is discovered by the write that needs it. sync gets 401,
asks auth for a forced refresh, auth meets ``invalid_grant`` and publishes grant.disconnected, and
the notifier emails the reason-specific alert; the appointment waits as pending.

auth, sync and the notifier (real apps) run in-process on the emulator and the mail catcher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from shared.amqp import Broker
from shared.config import CommonConfig, GoogleConfig
from tests.e2e.support import EMAIL, chain, plain
from tests.service.sync.support import booked, calendar_of, ours, running_sync
from tests.support.helpers import eventually


async def _state(db: asyncpg.Pool, version: int, state: str, reason: str | None = None) -> None:
    row = await db.fetchrow("SELECT version, state, wait_reason FROM sync.appointments")
    assert row is not None and (row["version"], row["state"]) == (version, state), row
    assert reason is None or row["wait_reason"] == reason, row


async def test_a_write_with_a_revoked_grant_leads_to_the_revoked_email(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> None:
    """The user removed our access in Google: the next appointment change gets 401, the forced
    refresh fails with invalid_grant, and the user receives the "access was removed" email."""
    async with (
        chain(common_config, google_config, emulator, broker, clean_db) as c,
        running_sync(common_config("sync"), google_config),
    ):
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
