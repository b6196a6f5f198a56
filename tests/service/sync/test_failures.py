"""Nothing is lost when the grant dies or Google pushes back: appointments wait (without burning
quota) and end up in the calendar exactly once, at their latest version."""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from shared import messages as m
from shared.web import REGISTRY
from tests.service.sync import support
from tests.service.sync.support import SyncWorld
from tests.support.helpers import eventually

ALICE, BOB = "alice@example.com", "bob@example.com"


def calendar_calls(emulator: Any, calendar_id: str) -> int:
    return len([r for r in emulator.requests if f"/calendars/{calendar_id}/" in r.path])


async def test_a_grant_revoked_mid_stream_then_reconnected_loses_nothing(
    world: SyncWorld,
) -> None:
    """Appointments and updates published while the grant is dead wait; after reconnecting, every
    appointment is in the calendar once, at its latest version."""
    world.add_account("u1", ALICE)
    async with world.start():
        await world.connect("u1", ALICE)
        await world.book("u1", 4)
        await eventually(lambda: support.all_synced(world.db, 4))
        world.emulator.revoke_user(ALICE)
        world.tokens.disconnected.add("u1")
        await world.broker.publish(support.booked("a0", "u1", 2))  # sync discovers the dead grant itself
        await eventually(lambda: _waiting(world.db, "a0", "disconnected"))
        await world.broker.publish(
            m.GrantDisconnected(user_id="u1", grant_id="g-u1", reason="revoked", since=m._now())
        )
        for number in range(2, 6):
            await world.broker.publish(support.booked(f"a{number}", "u1", 2 if number < 4 else 1, day=number))
        await world.broker.publish(
            m.AppointmentCancelled(appointment_id="a1", version=2, owner_user_id="u1", account_id="acc-1")
        )
        await eventually(lambda: support.pending_count(world.db, 6))
        calls_while_dead = calendar_calls(world.emulator, ALICE)
        world.tokens.disconnected.discard("u1")
        await world.broker.publish(support.connected("u1", ALICE, cause="reconnected"))
        await eventually(lambda: support.all_synced(world.db, 6))
    assert calls_while_dead <= 8 + 1  # the writes before the revocation and the one that found it
    events = support.ours(world.emulator, ALICE)
    assert sorted(events) == ["a0", "a2", "a3", "a4", "a5"]
    assert all(len(copies) == 1 for copies in events.values())
    assert {k: v[0]["summary"] for k, v in events.items()} == {
        "a0": "a0 v2", "a2": "a2 v2", "a3": "a3 v2", "a4": "a4 v1", "a5": "a5 v1",
    }  # fmt: skip


async def test_a_rate_limit_storm_delays_one_user_while_another_keeps_flowing(
    world: SyncWorld,
) -> None:
    """Google answering 429 and 403 rateLimitExceeded for Alice's calendar backs her writes off
    (no hot loop); Bob's appointments are written meanwhile; after the storm Alice's arrive, once."""
    for email, user in ((ALICE, "alice"), (BOB, "bob")):
        world.add_account(user, email)
    async with world.start(backoff=_slow_backoff()) as sync:
        for email, user in ((ALICE, "alice"), (BOB, "bob")):
            await world.connect(user, email)
            await support.first_sync_done(world.db, user)  # the storm meets the writes only
        world.emulator.fail_next(f"/calendar/v3/calendars/{ALICE}/", 403, reason="rateLimitExceeded", count=3)
        world.emulator.fail_for(f"/calendar/v3/calendars/{ALICE}/", 429)
        await world.book("alice", 12, prefix="al")
        await world.book("bob", 3, prefix="bo")
        storm_began = time.monotonic()
        await eventually(lambda: support.synced_of(world.db, "bob", 3))
        await eventually(lambda: _waiting_count(world.db, "alice", "rate_limited", 2))
        storm_calls, storm_seconds = calendar_calls(world.emulator, ALICE), time.monotonic() - storm_began
        world.emulator.clear_faults()
        await eventually(lambda: support.all_synced(world.db, 15), timeout=20)
    # Backoff, not a hot loop: each of the 12 rows is tried after 0.2, 0.4, 0.8 s, then once a second.
    assert storm_calls <= 12 * (5 + storm_seconds)
    registry = sync.app[REGISTRY]
    assert registry.get_sample_value("calsync_sync_google_errors_total", {"kind": "rate_limit"}) >= 2
    assert registry.get_sample_value("calsync_sync_writes_total", {"outcome": "synced"}) == 15
    events = support.ours(world.emulator, ALICE)
    assert len(events) == 12 and all(len(copies) == 1 for copies in events.values())


def _slow_backoff() -> Any:
    from services.sync.domain.failures import Backoff

    return Backoff(base=0.2, cap=1.0)


async def _waiting(db: asyncpg.Pool, appointment_id: str, reason: str) -> None:
    row = await db.fetchrow(
        "SELECT state, wait_reason FROM sync.appointments WHERE appointment_id = $1", appointment_id
    )
    assert (row["state"], row["wait_reason"]) == ("pending", reason), dict(row)


async def _waiting_count(db: asyncpg.Pool, user_id: str, reason: str, at_least: int) -> None:
    waiting = await db.fetchval(
        "SELECT count(*) FROM sync.appointments WHERE owner_user_id = $1 AND wait_reason = $2",
        user_id,
        reason,
    )
    assert waiting >= at_least
