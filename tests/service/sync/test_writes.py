"""sync writes platform appointments to the user's Google calendar: once, at the newest version,
and only once the user is connected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg

from shared import messages as m
from shared.clock import ManualClock
from tests.service.sync import support
from tests.service.sync.support import START, SyncWorld
from tests.support.helpers import eventually

EMAIL = "alice@example.com"


async def test_a_booked_appointment_appears_once_in_the_primary_calendar(
    world: SyncWorld,
    service_token: str,
) -> None:
    """A connected user's new appointment shows up in their primary calendar with its details,
    and the sync-state API says at which version and under which event id."""
    world.add_account("u1", EMAIL)
    async with world.start() as sync:
        assert await world.connect("u1", EMAIL) == EMAIL
        await world.broker.publish(support.booked("a1", "u1", location="Room 4", description="First talk"))
        await eventually(lambda: support.all_synced(world.db, 1))
        (event,) = support.ours(world.emulator, EMAIL)["a1"]
        assert event["summary"] == "a1 v1" and event["location"] == "Room 4"
        assert event["start"]["timeZone"] == "Europe/Berlin"
        (insert,) = [r for r in world.emulator.requests if r.method == "POST" and r.path.endswith("/events")]
        assert insert.query["sendUpdates"] == "none"  # Google mails no attendee by surprise
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {service_token}"}) as http:
            async with http.get(f"{sync.url}/api/v1/appointments/a1/sync") as resp:
                state = await resp.json()
            async with http.get(f"{sync.url}/api/v1/users/u1/sync-health") as resp:
                health = await resp.json()
            async with http.get(f"{sync.url}/api/v1/appointments/{'x' * 300}/sync") as resp:
                assert resp.status == 400 and "1 to 200 characters" in (await resp.json())["detail"]
            async with http.get(f"{sync.url}/api/v1/users/u%001/sync-health") as resp:
                assert resp.status == 400 and (await resp.json())["error"] == "invalid_characters"
            async with http.get(f"{sync.url}/api/v1/appointments/nope/sync") as resp:
                assert resp.status == 404
        assert state["state"] == "synced" and state["synced_version"] == 1
        assert state["event_id"] == event["id"] and state["calendar_id"] == EMAIL
        assert health["pending"] == 0 and health["last_success_at"] is not None


async def test_versions_arriving_out_of_order_end_at_the_newest(
    world: SyncWorld,
) -> None:
    """Version 3 published before versions 1 and 2: the calendar shows version 3, once."""
    world.add_account("u1", EMAIL)
    async with world.start():
        await world.connect("u1", EMAIL)
        for version in (3, 1, 2):
            await world.broker.publish(support.booked("a1", "u1", version))
        await eventually(lambda: support.all_synced(world.db, 1))
        await world.broker.publish(support.booked("a1", "u1", 2))  # a late duplicate of an old version
        await world.broker.publish(support.booked("a2", "u1"))
        await eventually(lambda: support.all_synced(world.db, 2))
    events = support.ours(world.emulator, EMAIL)
    assert [e["summary"] for e in events["a1"]] == ["a1 v3"]
    assert world.tokens.requests == [("u1", False)]  # one token, cached for every later call


async def test_a_replay_skips_appointments_that_ended_long_ago(
    world: SyncWorld,
) -> None:
    """After connecting, a recent past appointment is still written; one that ended beyond
    REPLAY_PAST_DAYS is marked skipped with the reason, and never sent to Google."""
    world.emulator.add_user(EMAIL)
    clock = ManualClock(START + timedelta(days=20))
    async with world.start(clock=clock, replay_past=timedelta(days=7)):
        await world.broker.publish(support.booked("old", "u1", day=10))  # ended ten days before the clock
        await world.broker.publish(support.booked("recent", "u1", day=18))
        await world.broker.publish(support.booked("soon", "u1", day=21))
        await eventually(lambda: support.pending_count(world.db, 3))
        world.tokens.accounts["u1"] = EMAIL
        await world.broker.publish(support.connected("u1", EMAIL))
        await eventually(lambda: _states(world.db, {"old": "skipped", "recent": "synced", "soon": "synced"}))
    assert sorted(support.ours(world.emulator, EMAIL)) == ["recent", "soon"]
    note = await world.db.fetchval("SELECT note FROM sync.appointments WHERE appointment_id = 'old'")
    assert note == "ended more than 7 days before it could be written"


async def _states(db: asyncpg.Pool, expected: dict[str, str]) -> None:
    rows = await db.fetch("SELECT appointment_id, state FROM sync.appointments")
    assert {r["appointment_id"]: r["state"] for r in rows} == expected


async def test_appointments_wait_without_a_grant_and_replay_on_connection(
    world: SyncWorld,
    probe: Callable[..., Any],
) -> None:
    """Before the user connects nothing is sent to Google; connecting replays every appointment
    and asks the platform to republish the user's upcoming ones."""
    world.emulator.add_user(EMAIL)
    backfill = await probe(m.SYNC_EVENTS, "sync.appointments.backfill_requested")
    async with world.start():
        await world.book("u1", 3)
        await eventually(lambda: support.pending_count(world.db, 3))
        assert not [r for r in world.emulator.requests if r.path.startswith("/calendar/")]
        world.tokens.accounts["u1"] = EMAIL
        await world.broker.publish(support.connected("u1", EMAIL))
        request = await backfill.next_json()
        assert request["user_id"] == "u1"
        await eventually(lambda: support.all_synced(world.db, 3))
    assert sorted(support.ours(world.emulator, EMAIL)) == ["a0", "a1", "a2"]


async def test_two_replicas_never_write_the_same_appointment_twice(
    world: SyncWorld,
) -> None:
    """Two sync replicas sharing the work insert each appointment exactly once, with no second
    attempt: claims keep them from writing one appointment at the same time."""
    world.add_account("u1", EMAIL)
    world.emulator.set_latency(f"/calendar/v3/calendars/{EMAIL}/events", 0.05)
    async with world.start(per_user_in_flight=4), world.start(per_user_in_flight=4):
        await world.connect("u1", EMAIL)
        await world.book("u1", 16)
        await eventually(lambda: support.all_synced(world.db, 16), timeout=20)
    inserts = [r for r in world.emulator.requests if r.method == "POST" and r.path.endswith("/events")]
    assert len(inserts) == 16 and all(r.status == 200 for r in inserts)
    owners = await world.db.fetch("SELECT DISTINCT lease_owner FROM sync.appointments")
    assert [r["lease_owner"] for r in owners] == [None]
