"""How the user's connection shapes the writes: a new Google account receives the upcoming
appointments, a withdrawn permission asks for consent once, one user's backlog leaves room for
others, and abandoned work is dropped after the retention period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from tests.service.sync.support import SyncWorld, all_synced, booked, connected, ours, synced_in, synced_of
from tests.support.helpers import eventually

ALICE, BOB, WORK = "alice@example.com", "bob@example.com", "alice@work.example"


async def test_switching_to_another_google_account_moves_upcoming_appointments(
    world: SyncWorld,
    probe: Callable[..., Any],
) -> None:
    """After reconnecting with another account the upcoming appointments appear in the new
    account's primary calendar, once, and the platform is asked for a backfill."""
    world.add_account("u1", ALICE)
    world.emulator.add_user(WORK)
    backfill = await probe(m.SYNC_EVENTS, "sync.appointments.backfill_requested")
    async with world.start():
        await world.connect("u1", ALICE)
        await backfill.next_json()
        await world.book("u1", 2)
        await eventually(lambda: all_synced(world.db, 2))
        world.tokens.accounts["u1"] = WORK
        await world.broker.publish(
            connected("u1", WORK, cause="reconnected", account_changed=True, previous_google_email=ALICE)
        )
        assert (await backfill.next_json())["user_id"] == "u1"
        await eventually(lambda: synced_in(world.db, WORK, 2))
        await eventually(lambda: all_synced(world.db, 2))
    assert sorted(ours(world.emulator, WORK)) == ["a0", "a1"]
    assert all(len(copies) == 1 for copies in ours(world.emulator, WORK).values())


async def test_a_withdrawn_calendar_permission_asks_for_consent_once(
    world: SyncWorld,
    probe: Callable[..., Any],
    service_token: str,
) -> None:
    """403 insufficientPermissions publishes one needs_consent problem; the appointments wait, the
    health view shows the problem, and reconnecting writes them and ends the episode."""
    world.add_account("u1", ALICE)
    problems = await probe(m.SYNC_EVENTS, "sync.calendar.problem")
    selected = await probe(m.SYNC_EVENTS, "sync.calendar.selected")
    async with world.start() as sync:
        await world.connect("u1", ALICE)
        world.emulator.fail_for(f"/calendar/v3/calendars/{ALICE}/", 403, reason="insufficientPermissions")
        await world.book("u1", 3)
        assert (await problems.next_json())["problem"] == "needs_consent"
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {service_token}"}) as http:
            health = await eventually(lambda: _health(http, sync.url, "u1", pending=3))
            async with http.get(f"{sync.url}/api/v1/appointments/a2/sync") as resp:
                state = await resp.json()
        assert health["calendar_problem"]["problem"] == "needs_consent"
        assert state["state"] == "pending" and "needs_consent" in state["why"]
        world.emulator.clear_faults()
        await world.broker.publish(connected("u1", ALICE, cause="reconnected"))
        await eventually(lambda: all_synced(world.db, 3))
        ended = await selected.next_json()
    assert ended["calendar_id"] == ALICE and selected.pending() == 0
    assert problems.pending() == 0
    assert sorted(ours(world.emulator, ALICE)) == ["a0", "a1", "a2"]


async def test_one_users_backlog_leaves_room_for_another(
    world: SyncWorld,
) -> None:
    """With one write in flight per user, Bob's appointment is written while Alice's slow backlog
    is still being worked through."""
    for email, user in ((ALICE, "alice"), (BOB, "bob")):
        world.add_account(user, email)
    async with world.start(per_user_in_flight=1):
        for email, user in ((ALICE, "alice"), (BOB, "bob")):
            await world.connect(user, email)
        world.emulator.set_latency(f"/calendar/v3/calendars/{ALICE}/events", 1.0)
        await world.book("alice", 8, prefix="al")
        await world.broker.publish(booked("bo", "bob"))
        await eventually(lambda: synced_of(world.db, "bob", 1))
        alice = await world.db.fetchrow(
            "SELECT count(*) FILTER (WHERE state = 'pending') AS pending,"
            " count(*) FILTER (WHERE lease_owner IS NOT NULL) AS in_flight"
            " FROM sync.appointments WHERE owner_user_id = 'alice'"
        )
        assert alice["pending"] >= 4 and alice["in_flight"] <= 1
        world.emulator.clear_faults()
        await eventually(lambda: all_synced(world.db, 9), timeout=20)
    assert len(ours(world.emulator, ALICE)) == 8


async def test_pending_work_of_a_deleted_connection_is_dropped_after_the_retention(
    start_sync: Callable[..., Any],
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> None:
    """Appointments of a deleted connection wait unwritten, and are dropped after
    PENDING_RETENTION_DAYS; a deleted user's are dropped too."""
    clock = ManualClock(datetime.now(UTC))
    emulator.add_user(ALICE)
    async with start_sync(clock=clock, pending_retention=timedelta(days=30)):
        await broker.publish(m.GrantDeleted(user_id="u1", grant_id="g-u1", occurred_at=clock.now()))
        await broker.publish(m.UserDeleted(user_id="u2", occurred_at=clock.now()))
        await broker.publish(booked("a1", "u1"))
        await broker.publish(booked("b1", "u2"))
        await eventually(lambda: _count(clean_db, 2))
        clock.advance(timedelta(days=29))
        clock.advance(timedelta(hours=2))
        assert await clean_db.fetchval("SELECT count(*) FROM sync.appointments") == 2
        clock.advance(timedelta(days=2))
        await eventually(lambda: _count(clean_db, 0))
    assert not [r for r in emulator.requests if r.path.startswith("/calendar/")]


async def _count(db: asyncpg.Pool, count: int) -> None:
    assert await db.fetchval("SELECT count(*) FROM sync.appointments") == count


async def _health(http: aiohttp.ClientSession, url: str, user_id: str, *, pending: int) -> dict[str, Any]:
    async with http.get(f"{url}/api/v1/users/{user_id}/sync-health") as resp:
        health: dict[str, Any] = await resp.json()
    assert health["pending"] == pending and health["calendar_problem"] is not None, health
    return health
