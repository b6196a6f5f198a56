"""sync writes platform appointments to the user's Google calendar: once, at the newest version,
and only once the user is connected."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg

from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from tests.service.sync.support import (
    START,
    TokenStandIn,
    all_synced,
    booked,
    calendar_of,
    connected,
    ours,
)
from tests.support.helpers import eventually

EMAIL = "alice@example.com"


async def test_a_booked_appointment_appears_once_in_the_primary_calendar(
    start_sync: Callable[..., Any],
    tokens: TokenStandIn,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
    service_token: str,
) -> None:
    """A connected user's new appointment shows up in their primary calendar with its details,
    and the sync-state API says at which version and under which event id."""
    emulator.add_user(EMAIL)
    tokens.accounts["u1"] = EMAIL
    async with start_sync() as sync:
        await broker.publish(connected("u1", EMAIL))
        assert await calendar_of(clean_db, "u1") == EMAIL
        await broker.publish(booked("a1", "u1", location="Room 4", description="First talk"))
        await eventually(lambda: all_synced(clean_db, 1))
        (event,) = ours(emulator, EMAIL)["a1"]
        assert event["summary"] == "a1 v1" and event["location"] == "Room 4"
        assert event["start"]["timeZone"] == "Europe/Berlin"
        (insert,) = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/events")]
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
    start_sync: Callable[..., Any],
    tokens: TokenStandIn,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> None:
    """Version 3 published before versions 1 and 2: the calendar shows version 3, once."""
    emulator.add_user(EMAIL)
    tokens.accounts["u1"] = EMAIL
    async with start_sync():
        await broker.publish(connected("u1", EMAIL))
        await calendar_of(clean_db, "u1")
        for version in (3, 1, 2):
            await broker.publish(booked("a1", "u1", version))
        await eventually(lambda: all_synced(clean_db, 1))
        await broker.publish(booked("a1", "u1", 2))  # a late duplicate of an old version
        await broker.publish(booked("a2", "u1"))
        await eventually(lambda: all_synced(clean_db, 2))
    events = ours(emulator, EMAIL)
    assert [e["summary"] for e in events["a1"]] == ["a1 v3"]
    assert tokens.requests == [("u1", False)]  # one token, cached for every later call


async def test_a_replay_skips_appointments_that_ended_long_ago(
    start_sync: Callable[..., Any],
    tokens: TokenStandIn,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> None:
    """After connecting, a recent past appointment is still written; one that ended beyond
    REPLAY_PAST_DAYS is marked skipped with the reason, and never sent to Google."""
    emulator.add_user(EMAIL)
    clock = ManualClock(START + timedelta(days=20))
    async with start_sync(clock=clock, replay_past=timedelta(days=7)):
        await broker.publish(booked("old", "u1", day=10))  # ended ten days before the clock
        await broker.publish(booked("recent", "u1", day=18))
        await broker.publish(booked("soon", "u1", day=21))
        await eventually(lambda: _pending(clean_db, 3))
        tokens.accounts["u1"] = EMAIL
        await broker.publish(connected("u1", EMAIL))
        await eventually(lambda: _states(clean_db, {"old": "skipped", "recent": "synced", "soon": "synced"}))
    assert sorted(ours(emulator, EMAIL)) == ["recent", "soon"]
    note = await clean_db.fetchval("SELECT note FROM sync.appointments WHERE appointment_id = 'old'")
    assert note == "ended more than 7 days before it could be written"


async def _states(db: asyncpg.Pool, expected: dict[str, str]) -> None:
    rows = await db.fetch("SELECT appointment_id, state FROM sync.appointments")
    assert {r["appointment_id"]: r["state"] for r in rows} == expected


async def test_appointments_wait_without_a_grant_and_replay_on_connection(
    start_sync: Callable[..., Any],
    tokens: TokenStandIn,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
    probe: Callable[..., Any],
) -> None:
    """Before the user connects nothing is sent to Google; connecting replays every appointment
    and asks the platform to republish the user's upcoming ones."""
    emulator.add_user(EMAIL)
    backfill = await probe(m.SYNC_EVENTS, "sync.appointments.backfill_requested")
    async with start_sync():
        for number in range(3):
            await broker.publish(booked(f"a{number}", "u1", day=number))
        await eventually(lambda: _pending(clean_db, 3))
        assert not [r for r in emulator.requests if r.path.startswith("/calendar/")]
        tokens.accounts["u1"] = EMAIL
        await broker.publish(connected("u1", EMAIL))
        request = await backfill.next_json()
        assert request["user_id"] == "u1"
        await eventually(lambda: all_synced(clean_db, 3))
    assert sorted(ours(emulator, EMAIL)) == ["a0", "a1", "a2"]


async def _pending(db: asyncpg.Pool, count: int) -> None:
    assert await db.fetchval("SELECT count(*) FROM sync.appointments WHERE state = 'pending'") == count


async def test_two_replicas_never_write_the_same_appointment_twice(
    start_sync: Callable[..., Any],
    tokens: TokenStandIn,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> None:
    """Two sync replicas sharing the work insert each appointment exactly once, with no second
    attempt: claims keep them from writing one appointment at the same time."""
    emulator.add_user(EMAIL)
    tokens.accounts["u1"] = EMAIL
    emulator.set_latency(f"/calendar/v3/calendars/{EMAIL}/events", 0.05)
    async with start_sync(per_user_in_flight=4), start_sync(per_user_in_flight=4):
        await broker.publish(connected("u1", EMAIL))
        await calendar_of(clean_db, "u1")
        for number in range(16):
            await broker.publish(booked(f"a{number}", "u1", day=number))
        await eventually(lambda: all_synced(clean_db, 16), timeout=20)
    inserts = [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/events")]
    assert len(inserts) == 16 and all(r.status == 200 for r in inserts)
    owners = await clean_db.fetch("SELECT DISTINCT lease_owner FROM sync.appointments")
    assert [r["lease_owner"] for r in owners] == [None]
