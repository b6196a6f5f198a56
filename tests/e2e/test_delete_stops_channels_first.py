"""End to end: a user deletes their connection while sync watches their calendar. sync stops the
watch channel at Google with the deleted grant's token (asked for ``for_deleted_grant``) and
publishes channels.stopped; only then does auth revoke the token at Google. The hold is long, so
the revoke can only follow from channels.stopped.

auth, sync (with its webhook, which the emulator pushes to) and the notifier run in-process on the
emulator; the order is the emulator's own request log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg

from services.sync.config import ChannelConfig
from shared.config import CommonConfig, GoogleConfig
from tests.e2e.support import StartChain
from tests.service.sync.support import running_sync
from tests.support.helpers import eventually

HOLD = 600.0  # seconds: far beyond the test, so only channels.stopped releases the revoke
STOP, REVOKE = "/calendar/v3/channels/stop", "/revoke"


async def _live_channel(db: asyncpg.Pool, user_id: str) -> str:
    row = await db.fetchrow("SELECT channel_id, state FROM sync.watch_channels WHERE user_id = $1", user_id)
    assert row is not None and row["state"] == "live", row
    return str(row["channel_id"])


async def _delete_connection(auth: Any, user_id: str) -> None:
    url = f"{auth.url}/api/v1/users/{user_id}/connection"
    async with aiohttp.ClientSession(headers=auth.api_headers) as api, api.delete(url) as resp:
        assert resp.status == 204


def _stop_and_revoke(emulator: Any) -> list[Any]:
    calls = [r for r in emulator.requests if r.path in (STOP, REVOKE)]
    assert [r.path for r in calls] == [STOP, REVOKE], [(r.path, r.status) for r in calls]
    return calls


async def test_a_deleted_connection_stops_its_channel_before_the_token_is_revoked(
    start_chain: StartChain,
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    clean_db: asyncpg.Pool,
) -> None:
    channels = ChannelConfig(interval=0.1, cache_seconds=0.1)
    async with (
        start_chain(revoke_hold=HOLD) as c,
        running_sync(common_config("sync"), google_config, channels=channels),
    ):
        channel_id = await eventually(lambda: _live_channel(clean_db, c.user_id))
        await _delete_connection(c.auth, c.user_id)

        async def both_done() -> list[Any]:
            return _stop_and_revoke(emulator)

        stop, revoke = await eventually(both_done)
        assert emulator.state.channels[channel_id].stopped
        assert stop.status is not None and stop.status < 300, stop.status
        assert revoke.status == 200 and revoke.form.get("token"), revoke.status
        assert stop.answered_at is not None and revoke.answered_at is not None
        assert stop.answered_at < revoke.answered_at
