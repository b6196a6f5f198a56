"""sync killed after Google accepted an insert but before recording it: after a restart the
appointment is in the calendar exactly once.

A real sync process (``python -m services.sync``) writes the appointment. The emulator holds the
insert for a moment; meanwhile the test locks the appointment's row, so once Google has stored the
event the process is stuck recording the outcome. It is then killed with SIGKILL, and another sync
takes over the expired claim.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from shared.amqp import Broker
from shared.config import CommonConfig, GoogleConfig
from tests.service.notifier.support import free_port
from tests.service.sync.support import TokenStandIn, all_synced, booked, calendar_of, connected, ours
from tests.support.helpers import eventually

EMAIL = "alice@example.com"


@asynccontextmanager
async def sync_process(
    common: CommonConfig, google: GoogleConfig, *, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """sync as its own OS process (SystemClock) on the test's database, broker and emulator."""
    port, internal_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": common.database_url,
        "AMQP_URL": common.amqp_url,
        "AMQP_PREFIX": common.amqp_prefix,
        "AMQP_RETRY_DELAYS_MS": ",".join(str(d) for d in common.retry_delays_ms),
        "HTTP_PORT": str(port),
        "INTERNAL_HOST": "127.0.0.1",
        "INTERNAL_PORT": str(internal_port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SERVICE_TOKEN": common.service_token,
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
        "OUTBOX_POLL_INTERVAL": "0.05",
        "LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.sync", env=env, stdout=out, stderr=out
        )
        try:
            await eventually(lambda: _ready(f"http://127.0.0.1:{internal_port}"), timeout=30)
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()


async def _ready(url: str) -> None:
    try:
        async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as resp:
            assert resp.status == 200
    except aiohttp.ClientConnectionError:
        raise AssertionError("not listening yet") from None


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
    start_sync: Callable[..., Any],
    tokens: TokenStandIn,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
    database_url: str,
    tmp_path: Path,
) -> None:
    """The restarted writer inserts under the stored id, gets 409, recognises its own event by the
    private tag and records it as synced: the user sees one event, never two."""
    emulator.add_user(EMAIL)
    tokens.accounts["u1"] = EMAIL
    async with sync_process(common_config("sync"), google_config, log=tmp_path / "sync.log") as proc:
        await broker.publish(connected("u1", EMAIL))
        await calendar_of(clean_db, "u1")
        emulator.set_latency(f"/calendar/v3/calendars/{EMAIL}/events", 3.0)  # time to lock the row
        await broker.publish(booked("a1", "u1"))
        await eventually(lambda: _event_id_stored(clean_db))
        holder = await asyncpg.connect(database_url)
        try:
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM sync.appointments WHERE appointment_id = 'a1' FOR UPDATE")
                await eventually(lambda: _stuck_recording(clean_db, emulator))
                proc.send_signal(signal.SIGKILL)
                assert await proc.wait() == -signal.SIGKILL
        finally:
            await holder.close()
    emulator.clear_faults()
    row = await clean_db.fetchrow("SELECT state, etag, lease_until FROM sync.appointments")
    assert row["state"] == "pending" and row["etag"] is None and row["lease_until"] is not None

    async with start_sync():
        await eventually(lambda: all_synced(clean_db, 1), timeout=15)
    inserts = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/events")]
    assert [r.status for r in inserts] == [200, 409]
    assert len(ours(emulator, EMAIL)["a1"]) == 1
