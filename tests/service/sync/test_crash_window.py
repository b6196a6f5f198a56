"""sync killed after Google accepted an insert but before recording it: after a restart the
appointment is in the calendar exactly once.

A real sync process (``python -m services.sync``) writes the appointment. The emulator holds the
insert for a moment; meanwhile the test locks the appointment's row, so once Google has stored the
event the process is stuck recording the outcome. It is then killed with SIGKILL, and another sync
takes over the expired claim.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from shared.config import CommonConfig, GoogleConfig
from tests.service.sync.support import SyncWorld, all_synced, booked, ours
from tests.support.helpers import eventually
from tests.support.service_process import service_process

EMAIL = "alice@example.com"


@asynccontextmanager
async def sync_process(
    common: CommonConfig, google: GoogleConfig, *, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """sync as its own OS process (SystemClock) on the test's database, broker and emulator."""
    settings = {
        "GOOGLE_CLIENT_ID": google.client_id,
        "GOOGLE_CLIENT_SECRET": google.client_secret,
        "GOOGLE_AUTH_URL": google.auth_url,
        "GOOGLE_TOKEN_URL": google.token_url,
        "GOOGLE_REVOKE_URL": google.revoke_url,
        "GOOGLE_USERINFO_URL": google.userinfo_url,
        "GOOGLE_RISC_CONFIG_URL": google.risc_config_url,
        "GOOGLE_CALENDAR_BASE_URL": google.calendar_base_url,
        "SYNC_POLL_INTERVAL": "0.05",
        "SYNC_LEASE_SECONDS": "2",
    }
    async with service_process("sync", common, settings, log=log) as proc:
        yield proc


async def _event_id_stored(db: asyncpg.Pool) -> None:
    assert await db.fetchval("SELECT event_id FROM sync.appointments") is not None


async def _stuck_recording(db: asyncpg.Pool, emulator: Any) -> None:
    assert len(ours(emulator, EMAIL).get("a1", [])) == 1  # Google has it
    waiting = await db.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    assert waiting >= 1  # and sync is waiting to record it


async def test_a_sync_killed_after_google_accepted_the_insert_leaves_one_event(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    world: SyncWorld,
    database_url: str,
    tmp_path: Path,
) -> None:
    """The restarted writer inserts under the stored id, gets 409, recognises its own event by the
    private tag and records it as synced: the user sees one event, never two."""
    world.add_account("u1", EMAIL)
    async with sync_process(common_config("sync"), google_config, log=tmp_path / "sync.log") as proc:
        await world.connect("u1", EMAIL)
        world.emulator.set_latency(f"/calendar/v3/calendars/{EMAIL}/events", 3.0)  # time to lock the row
        await world.broker.publish(booked("a1", "u1"))
        await eventually(lambda: _event_id_stored(world.db))
        holder = await asyncpg.connect(database_url)
        try:
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM sync.appointments WHERE appointment_id = 'a1' FOR UPDATE")
                await eventually(lambda: _stuck_recording(world.db, world.emulator))
                proc.send_signal(signal.SIGKILL)
                assert await proc.wait() == -signal.SIGKILL
        finally:
            await holder.close()
    world.emulator.clear_faults()
    row = await world.db.fetchrow("SELECT state, etag, lease_until FROM sync.appointments")
    assert row["state"] == "pending" and row["etag"] is None and row["lease_until"] is not None

    async with world.start():
        await eventually(lambda: all_synced(world.db, 1), timeout=15)
    inserts = [r for r in world.emulator.requests if r.method == "POST" and r.path.endswith("/events")]
    assert [r.status for r in inserts] == [200, 409]
    assert len(ours(world.emulator, EMAIL)["a1"]) == 1
