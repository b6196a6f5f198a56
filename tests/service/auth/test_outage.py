"""A long Google token-endpoint outage disconnects nobody, and everything recovers afterwards."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from shared import messages as m
from shared.clock import ManualClock
from shared.rpc import RpcClient
from tests.support.helpers import eventually

from .refresh_support import add_grant, refresh_config, running

GRANTS = 5


async def test_token_endpoint_503_for_hours_disconnects_nobody(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any, probe: Any
) -> None:
    """Four hours of 503 from Google: refreshes back off and retry, sync hears 'temporarily unavailable',
    nobody is disconnected or alerted, and all grants work again once Google is back."""
    clock = ManualClock()
    events = await probe("auth.events", "#")
    async with running(refresh_config(common_config("auth"), google_config, jitter=0.0), clock):
        grants = [await add_grant(clean_db, emulator, clock, expires_in=3600) for _ in range(GRANTS)]
        client = RpcClient(broker)
        await client.start()
        emulator.fail_for("/token", 503)
        for step in range(16):  # first due at 51 minutes, then 15 × 15 minutes
            now = clock.advance(timedelta(minutes=51 if step == 0 else 15))
            await eventually(functools.partial(_all_attempted_at, clean_db, now), timeout=10)
        reply = await client.call(m.TokenRequested(user_id=grants[0]["user_id"]), timeout=10)
        assert isinstance(reply, m.TokenReply) and reply.status == "temporarily_unavailable"
        assert reply.retry_after and reply.retry_after > 0
        failed_calls = emulator.token_calls_by_grant["refresh_token"]
        assert failed_calls >= GRANTS * 16
        emulator.clear_faults()
        clock.advance(timedelta(minutes=15))

        async def recovered() -> None:
            async with clean_db.acquire() as conn:
                rows = await conn.fetch("SELECT state, refresh_failures, access_expires_at FROM auth.grants")
            assert len(rows) == GRANTS
            assert all(r["state"] == "connected" and r["refresh_failures"] == 0 for r in rows)
            assert all(r["access_expires_at"] > clock.now() for r in rows)

        await eventually(recovered, timeout=10)
        reply = await client.call(m.TokenRequested(user_id=grants[0]["user_id"]), timeout=10)
        assert isinstance(reply, m.TokenReply) and reply.status == "token"
        await eventually(functools.partial(_outbox_drained, clean_db), timeout=10)
        emitted = await clean_db.fetch("SELECT message_type FROM auth.outbox")
    seen = [(await events.next_json(1))["type"] for _ in range(events.pending())]
    assert not {"grant.disconnected", "operator.alert"} & ({r["message_type"] for r in emitted} | set(seen))


async def _outbox_drained(db: Any) -> None:
    """Everything auth emitted has been published (the relay marks a row sent after the broker's confirm)."""
    assert await db.fetchval("SELECT count(*) FROM auth.outbox WHERE sent_at IS NULL") == 0


async def _all_attempted_at(db: Any, now: Any) -> None:
    async with db.acquire() as conn:
        n = await conn.fetchval("SELECT count(*) FROM auth.grants WHERE last_attempt_at = $1", now)
        dead = await conn.fetchval("SELECT count(*) FROM auth.grants WHERE state <> 'connected'")
    assert dead == 0
    assert n == GRANTS


async def test_forced_refresh_works_as_soon_as_a_short_outage_ends(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """With production-like refresh timing, after a 5-minute token-endpoint outage a forced refresh
    returns a working token within REFRESH_RETRY_MAX_SECONDS plus one scheduler pass, not after the
    scheduler's 120 s claim lease."""
    clock = ManualClock()
    config = refresh_config(common_config("auth"), google_config, lead=600.0, jitter=300.0, retry_max=5.0)
    async with running(config, clock):
        grant = await add_grant(clean_db, emulator, clock, expires_in=3600)
        client = RpcClient(broker)
        await client.start()
        forced = m.TokenRequested(user_id=grant["user_id"], force_refresh=True)
        clock.advance(timedelta(seconds=11))  # past FORCE_REFRESH_MIN_INTERVAL_SECONDS since the connect
        emulator.fail_for("/token", 503)
        for _ in range(30):  # 5 minutes of forced requests, each step past the 5 s backoff
            reply = await client.call(forced, timeout=10)
            assert isinstance(reply, m.TokenReply) and reply.status == "temporarily_unavailable"
            clock.advance(timedelta(seconds=10))
            await eventually(
                functools.partial(_scheduler_passed, clean_db, grant["grant_id"], clock), timeout=10
            )
        emulator.clear_faults()
        clock.advance(timedelta(seconds=6))  # REFRESH_RETRY_MAX_SECONDS (+20 % jitter) later
        await eventually(functools.partial(_scheduler_passed, clean_db, grant["grant_id"], clock), timeout=10)
        reply = await client.call(forced, timeout=10)
    assert isinstance(reply, m.TokenReply) and reply.status == "token", reply
    assert reply.access_token and reply.access_token != grant["access_token"]


async def _scheduler_passed(db: Any, grant_id: str, clock: ManualClock) -> None:
    """The grant is not due at the clock's now: the scheduler has claimed it (or it is not due yet)."""
    due = await db.fetchval("SELECT next_refresh_at FROM auth.grants WHERE grant_id = $1", grant_id)
    assert due > clock.now()
