"""What users do on Google's side, and what Google refuses: an event deleted in Google comes back,
deleting and re-adding the connection duplicates nothing, an unwritable calendar is reported once,
and a rejected appointment is marked failed with Google's reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from shared import messages as m
from tests.service.sync.support import SyncWorld, all_synced, booked, connected, first_sync_done, ours
from tests.support.helpers import eventually

EMAIL = "alice@example.com"


async def test_an_event_deleted_in_google_is_recreated_on_the_next_update(
    world: SyncWorld,
) -> None:
    """The platform is the source of truth: an update of an event the user deleted in Google
    writes it again under a new id, and the sync state says so."""
    world.add_account("u1", EMAIL)
    async with world.start():
        await world.connect("u1", EMAIL)
        await world.broker.publish(booked("a1", "u1"))
        await eventually(lambda: all_synced(world.db, 1))
        (first,) = ours(world.emulator, EMAIL)["a1"]
        world.emulator.user_delete_event(EMAIL, first["id"])
        await world.broker.publish(booked("a1", "u1", 2))
        await eventually(lambda: _synced_at(world.db, "a1", 2))
    (again,) = ours(world.emulator, EMAIL)["a1"]
    assert again["id"] != first["id"] and again["summary"] == "a1 v2"
    row = await world.db.fetchrow("SELECT generation, note FROM sync.appointments")
    assert row["generation"] == 1 and "deleted in Google" in row["note"]


async def test_deleting_and_re_adding_the_connection_duplicates_nothing(
    world: SyncWorld,
    probe: Callable[..., Any],
) -> None:
    """After grant.deleted nothing is written; re-adding the same Google account and the platform
    republishing everything leaves each appointment in the calendar exactly once."""
    world.add_account("u1", EMAIL)
    backfill = await probe(m.SYNC_EVENTS, "sync.appointments.backfill_requested")
    async with world.start():
        await world.connect("u1", EMAIL)
        published = [booked(f"a{n}", "u1", day=n) for n in range(3)]
        for message in published:
            await world.broker.publish(message)
        await eventually(lambda: all_synced(world.db, 3))
        await world.broker.publish(m.GrantDeleted(user_id="u1", grant_id="g-u1"))
        del world.tokens.accounts["u1"]  # auth dropped the grant
        await eventually(lambda: _grant(world.db, "deleted"))
        late = booked("a3", "u1", day=3)
        await world.broker.publish(late)
        await eventually(lambda: _pending(world.db, "a3"))
        assert "a3" not in ours(world.emulator, EMAIL)  # nothing is written after the deletion
        world.tokens.accounts["u1"] = EMAIL
        await world.broker.publish(connected("u1", EMAIL))
        await backfill.next_json()
        await backfill.next_json()  # the second connection asks again
        for message in [*published, late]:
            await world.broker.publish(message.model_copy(update={"message_id": m._new_id()}))
        await eventually(lambda: all_synced(world.db, 4))
    events = ours(world.emulator, EMAIL)
    assert sorted(events) == ["a0", "a1", "a2", "a3"]
    assert all(len(copies) == 1 for copies in events.values())


async def test_a_read_only_calendar_is_reported_once_and_appointments_wait(
    world: SyncWorld,
    probe: Callable[..., Any],
) -> None:
    """Lost write access gives one calendar.problem (calendar_unavailable) for the episode; the
    appointments stay pending with that reason and nothing more is sent to Google."""
    world.add_account("u1", EMAIL)
    problems = await probe(m.SYNC_EVENTS, "sync.calendar.problem")
    async with world.start():
        await world.connect("u1", EMAIL)
        world.emulator.set_access_role(EMAIL, EMAIL, "reader")
        await world.book("u1", 3)
        problem = await problems.next_json()
        assert problem["problem"] == "calendar_unavailable" and problem["calendar_id"] == EMAIL
        await eventually(lambda: _problem(world.db, "calendar_unavailable"))
        await eventually(lambda: _nothing_in_flight(world.db))  # writes claimed before the problem end
        calls = len([r for r in world.emulator.requests if r.method == "POST"])
        await world.broker.publish(booked("a9", "u1"))
        await eventually(lambda: _pending(world.db, "a9"))
        assert len([r for r in world.emulator.requests if r.method == "POST"]) == calls
    assert problems.pending() == 0


async def test_an_appointment_google_rejects_is_marked_failed_with_the_reason(
    world: SyncWorld,
) -> None:
    """A 400 from Google is not retried: the appointment is failed with Google's reason, and
    the user's other appointments are written."""
    world.add_account("u1", EMAIL)
    async with world.start():
        await world.connect("u1", EMAIL)
        await first_sync_done(world.db, "u1")  # its events.list must not meet the fault
        world.emulator.fail_next(f"/calendar/v3/calendars/{EMAIL}/events", 400, reason="timeRangeEmpty")
        await world.broker.publish(booked("a1", "u1"))
        await eventually(lambda: _state(world.db, "a1", "failed"))
        await world.broker.publish(booked("a2", "u1"))
        await eventually(lambda: _state(world.db, "a2", "synced"))
    row = await world.db.fetchrow("SELECT last_error FROM sync.appointments WHERE appointment_id = 'a1'")
    assert row["last_error"] == "google 400 timeRangeEmpty"


async def _state(db: asyncpg.Pool, appointment_id: str, state: str) -> None:
    found = await db.fetchval("SELECT state FROM sync.appointments WHERE appointment_id = $1", appointment_id)
    assert found == state


async def _pending(db: asyncpg.Pool, appointment_id: str) -> None:
    await _state(db, appointment_id, "pending")


async def _synced_at(db: asyncpg.Pool, appointment_id: str, version: int) -> None:
    row = await db.fetchrow(
        "SELECT state, synced_version FROM sync.appointments WHERE appointment_id = $1", appointment_id
    )
    assert (row["state"], row["synced_version"]) == ("synced", version)


async def _nothing_in_flight(db: asyncpg.Pool) -> None:
    assert await db.fetchval("SELECT count(*) FROM sync.appointments WHERE lease_owner IS NOT NULL") == 0


async def _grant(db: asyncpg.Pool, state: str) -> None:
    assert await db.fetchval("SELECT state FROM sync.grant_states") == state


async def _problem(db: asyncpg.Pool, problem: str) -> None:
    assert await db.fetchval("SELECT calendar_problem FROM sync.grant_states") == problem
    waiting = await db.fetch("SELECT wait_reason FROM sync.appointments WHERE state = 'pending'")
    assert waiting and any(r["wait_reason"] == problem for r in waiting)
