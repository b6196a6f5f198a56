"""Inbound sync against the emulator: the first full list stores a sync token, changes made in
Google are announced, a 410 while paging falls back to a full list, the user's move or deletion of
one of our events is reported, our own writes are not, the safety net syncs calendars nobody pushed
for, and requests during a run cause exactly one more run."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from shared import messages as m
from shared.clock import ManualClock
from shared.web import REGISTRY
from tests.service.sync.support import (
    FAST_INBOUND,
    START,
    SyncWorld,
    all_synced,
    booked,
    connected,
    ours,
    push_arrived,
)
from tests.support.helpers import eventually

EMAIL = "alice@example.com"
LISTS = "/calendar/v3/calendars/"
ANNOUNCED = ("calendar.event.changed", "calendar.event.deleted", "appointment.external_change")


def _timed(hour: int, day: int = 0) -> dict[str, str]:
    when = START + timedelta(days=day, hours=hour)
    return {"dateTime": when.isoformat(), "timeZone": "Europe/Berlin"}


def _external(event_id: str, hour: int = 3) -> dict[str, Any]:
    return {"id": event_id, "summary": "dentist", "start": _timed(hour), "end": _timed(hour + 1)}


async def _request(db: asyncpg.Pool, clock: ManualClock, calendar_id: str) -> None:
    await push_arrived(db, "u1", calendar_id, clock.now())


async def _row(db: asyncpg.Pool) -> asyncpg.Record:
    row = await db.fetchrow("SELECT * FROM sync.calendar_syncs WHERE user_id = 'u1'")
    assert row is not None
    return row


async def _idle_after(db: asyncpg.Pool, synced_after: datetime | None = None) -> asyncpg.Record:
    row = await _row(db)
    assert row["state"] == "idle" and row["sync_token"] is not None, dict(row)
    assert synced_after is None or row["last_synced_at"] > synced_after, dict(row)
    return row


async def _known(db: asyncpg.Pool, event_id: str, **expected: Any) -> None:
    row = await db.fetchrow("SELECT * FROM sync.calendar_events_known WHERE event_id = $1", event_id)
    assert row is not None and all(row[k] == v for k, v in expected.items()), row


async def _announced(db: asyncpg.Pool) -> list[str]:
    rows = await db.fetch(
        "SELECT message_type FROM sync.outbox WHERE message_type = ANY($1)", list(ANNOUNCED)
    )
    return [r["message_type"] for r in rows]


async def _started(world: SyncWorld) -> str:
    """Connect u1; its calendar once the first (full) inbound sync has finished."""
    calendar_id = await world.connect("u1", EMAIL)
    await eventually(lambda: _idle_after(world.db))
    return calendar_id


def _lists(emulator: Any) -> int:
    return sum(1 for r in emulator.requests if r.method == "GET" and r.path.endswith("/events"))


async def test_the_first_sync_lists_everything_and_stores_the_token(
    world: SyncWorld, probe: Callable[..., Any]
) -> None:
    """Connecting requests a full list from 30 days ago; its token is kept and the calendar waits
    for the safety net (6 h ± 10 %); the events already there are announced."""
    world.add_account("u1", EMAIL)
    world.emulator.user_put_event(EMAIL, _external("dentist0"))
    changed = await probe(m.SYNC_EVENTS, "sync.calendar.event.changed")
    clock = ManualClock(datetime.now(UTC))
    async with world.start(clock=clock):
        await _started(world)
        event = await changed.next_json()
    row = await _row(world.db)
    assert timedelta(hours=5.4) <= row["due_at"] - row["last_synced_at"] <= timedelta(hours=6.6)
    (listed,) = [r for r in world.emulator.requests if r.method == "GET" and r.path.endswith("/events")]
    assert "syncToken" not in listed.query and listed.query["showDeleted"] == "true"
    assert listed.query["timeMin"].startswith((clock.now() - timedelta(days=30)).date().isoformat())
    assert (event["event_id"], event["appointment_id"], event["busy"]) == ("dentist0", None, True)
    assert datetime.fromisoformat(event["start"]["date_time"]) == START + timedelta(hours=3)


async def test_an_event_added_in_google_is_announced(world: SyncWorld, probe: Callable[..., Any]) -> None:
    """After a push, the incremental list (with the stored token) announces the new event."""
    world.add_account("u1", EMAIL)
    changed = await probe(m.SYNC_EVENTS, "sync.calendar.event.changed")
    clock = ManualClock(datetime.now(UTC))
    async with world.start(clock=clock):
        calendar_id = await _started(world)
        world.emulator.user_put_event(EMAIL, {**_external("dentist1"), "transparency": "transparent"})
        await _request(world.db, clock, calendar_id)
        event = await changed.next_json()
    assert (event["event_id"], event["busy"], event["status"]) == ("dentist1", False, "confirmed")
    incremental = [r for r in world.emulator.requests if r.path.endswith("/events")][-1]
    assert "syncToken" in incremental.query and "timeMin" not in incremental.query


async def test_a_410_while_paging_recovers_with_a_full_list(
    world: SyncWorld, probe: Callable[..., Any]
) -> None:
    """Google answers 410 fullSyncRequired on the second page: sync lists everything again, sees
    the deletion made meanwhile, announces it once and stores the full list's token."""
    world.add_account("u1", EMAIL)
    for number in range(3):
        world.emulator.user_put_event(EMAIL, _external(f"old{number}", hour=number))
    deleted = await probe(m.SYNC_EVENTS, "sync.calendar.event.deleted")
    clock = ManualClock(datetime.now(UTC))
    inbound = dataclasses.replace(FAST_INBOUND, page_size=2)
    async with world.start(clock=clock, inbound=inbound):
        calendar_id = await _started(world)
        first = await _row(world.db)
        world.emulator.user_delete_event(EMAIL, "old1")
        for number in range(3):
            world.emulator.user_put_event(EMAIL, _external(f"new{number}", hour=number + 5))
        world.emulator.fail_next(LISTS, 410, "fullSyncRequired", after=1)
        clock.advance(1)
        await _request(world.db, clock, calendar_id)
        gone = await deleted.next_json()
        row = await eventually(lambda: _idle_after(world.db, first["last_synced_at"]))
    assert gone["event_id"] == "old1" and gone["appointment_id"] is None
    assert row["sync_token"] != first["sync_token"]
    statuses = [r.status for r in world.emulator.requests if r.path.endswith("/events")]
    assert 410 in statuses and statuses[-1] == 200
    assert (await _announced(world.db)).count("calendar.event.deleted") == 1
    await _known(world.db, "old1", status="cancelled")


async def test_moving_or_deleting_our_event_in_google_is_an_external_change(
    world: SyncWorld, probe: Callable[..., Any]
) -> None:
    """The user moved one of our events and deleted another: appointment.external_change says
    moved (with the new times) and deleted."""
    world.add_account("u1", EMAIL)
    external = await probe(m.SYNC_EVENTS, "sync.appointment.external_change")
    clock = ManualClock(datetime.now(UTC))
    async with world.start(clock=clock):
        calendar_id = await _started(world)
        await world.book("u1", 2)
        await eventually(lambda: all_synced(world.db, 2))
        events = ours(world.emulator, EMAIL)
        moved, removed = events["a0"][0]["id"], events["a1"][0]["id"]
        world.emulator.user_put_event(EMAIL, {"id": moved, "start": _timed(2), "end": _timed(3)})
        world.emulator.user_delete_event(EMAIL, removed)
        await _request(world.db, clock, calendar_id)
        changes = {c["appointment_id"]: c for c in [await external.next_json(), await external.next_json()]}
    assert changes["a0"]["change"] == "moved" and changes["a0"]["event_id"] == moved
    assert datetime.fromisoformat(changes["a0"]["start"]["date_time"]) == START + timedelta(hours=2)
    assert changes["a1"]["change"] == "deleted" and changes["a1"]["start"] is None


async def test_our_own_writes_are_not_announced(world: SyncWorld) -> None:
    """Writing, updating and cancelling an appointment, each followed by an inbound sync, publishes
    no calendar.event.* and no appointment.external_change."""
    world.add_account("u1", EMAIL)
    clock = ManualClock(datetime.now(UTC))
    async with world.start(clock=clock):
        calendar_id = await _started(world)
        for version in (1, 2):
            await world.broker.publish(booked("a0", "u1", version, day=version))
            await eventually(functools.partial(_synced_at, world.db, version))
            (event,) = ours(world.emulator, EMAIL)["a0"]
            await _request(world.db, clock, calendar_id)
            await eventually(functools.partial(_known, world.db, event["id"], tag_version=version))
        await world.broker.publish(
            m.AppointmentCancelled(appointment_id="a0", version=3, owner_user_id="u1", account_id="acc-1")
        )
        await eventually(lambda: _synced_at(world.db, 3))
        await _request(world.db, clock, calendar_id)
        await eventually(lambda: _known(world.db, event["id"], status="cancelled"))
    assert await _announced(world.db) == []


async def _synced_at(db: asyncpg.Pool, version: int) -> None:
    assert await db.fetchval("SELECT synced_version FROM sync.appointments") == version


async def test_the_safety_net_syncs_a_calendar_without_pushes(
    world: SyncWorld, probe: Callable[..., Any]
) -> None:
    """No push came for 7 hours: the safety net lists the calendar anyway, finds the new event,
    and counts the missed push."""
    world.add_account("u1", EMAIL)
    changed = await probe(m.SYNC_EVENTS, "sync.calendar.event.changed")
    clock = ManualClock(datetime.now(UTC))
    async with world.start(clock=clock) as sync:
        await _started(world)
        world.emulator.user_put_event(EMAIL, _external("unpushed"))
        assert _lists(world.emulator) == 1  # nothing is listed before the safety net is due
        clock.advance(timedelta(hours=7))
        event = await changed.next_json()
        missed = sync.app[REGISTRY].get_sample_value("calsync_sync_channel_missed_pushes_total")
    assert event["event_id"] == "unpushed" and missed == 1


async def test_requests_during_a_run_cause_exactly_one_more_run(world: SyncWorld) -> None:
    """Three pushes while a sync runs: one follow-up run, then the calendar is idle."""
    world.add_account("u1", EMAIL)
    clock = ManualClock(datetime.now(UTC))
    async with world.start(clock=clock):
        calendar_id = await _started(world)
        world.emulator.set_latency(LISTS, 0.5)
        await _request(world.db, clock, calendar_id)
        await eventually(_running(world.db))
        for _ in range(3):
            await _request(world.db, clock, calendar_id)
        await eventually(_running(world.db, follow_up=True))
        await eventually(lambda: _idle_after(world.db))
        runs = _lists(world.emulator)
    assert runs == 3  # the first sync, the pushed one and one follow-up


async def test_a_follow_up_run_waits_its_pause_after_the_run(world: SyncWorld) -> None:
    """A push during a run is taken ``follow_up_after`` after that run ends, not at once: a burst
    of notifications costs a calendar one list per pause."""
    world.add_account("u1", EMAIL)
    clock = ManualClock(datetime.now(UTC))
    paced = dataclasses.replace(FAST_INBOUND, follow_up_after=timedelta(seconds=10))
    async with world.start(clock=clock, inbound=paced):
        calendar_id = await _started(world)
        world.emulator.set_latency(LISTS, 0.5)
        await _request(world.db, clock, calendar_id)
        await eventually(_running(world.db))
        await _request(world.db, clock, calendar_id)
        await eventually(_running(world.db, follow_up=True))
        row = await eventually(functools.partial(_pending, world.db))
        assert row["due_at"] == row["last_synced_at"] + timedelta(seconds=10)
        assert _lists(world.emulator) == 2  # the first sync and the pushed one; the follow-up waits
        await _request(world.db, clock, calendar_id)  # another push during the pause changes nothing
        assert (await _row(world.db))["due_at"] == row["due_at"]
        clock.advance(timedelta(seconds=10))
        await eventually(lambda: _idle_after(world.db, row["last_synced_at"]))
        assert _lists(world.emulator) == 3


async def _pending(db: asyncpg.Pool) -> asyncpg.Record:
    row = await _row(db)
    assert row["state"] == "pending", dict(row)
    return row


def _running(db: asyncpg.Pool, *, follow_up: bool = False) -> Callable[[], Any]:
    async def check() -> None:
        row = await _row(db)
        assert row["state"] == "running" and row["follow_up"] is follow_up, dict(row)

    return check


async def test_inbound_state_no_calendar_needs_is_purged(world: SyncWorld) -> None:
    """The purge (hourly, and at start): what sync held of a calendar the user no longer syncs to
    is dropped, and so are known events that ended before the full list's window; the destination
    calendar and its recent events stay."""
    world.add_account("u1", EMAIL)
    async with world.start():
        calendar_id = await _started(world)
    old, long_ago = "old@example.com", datetime.now(UTC) - FAST_INBOUND.full_sync_past - timedelta(days=2)
    await world.db.execute(
        "INSERT INTO sync.calendar_syncs (user_id, calendar_id, state, due_at, requested_by)"
        " VALUES ('u1', $1, 'idle', now() + interval '1 day', 'initial')",
        old,
    )
    for calendar, event_id, ends_at in ((old, "oldcal1", None), (calendar_id, "ended1", long_ago),
                                        (calendar_id, "soon1", datetime.now(UTC) + timedelta(days=1))):  # fmt: skip
        await world.db.execute(
            "INSERT INTO sync.calendar_events_known (user_id, calendar_id, event_id, status, ends_at)"
            " VALUES ('u1', $1, $2, 'confirmed', $3)",
            calendar, event_id, ends_at,
        )  # fmt: skip

    async def purged() -> None:
        calendars = await world.db.fetch("SELECT calendar_id FROM sync.calendar_syncs WHERE user_id = 'u1'")
        known = await world.db.fetch("SELECT event_id FROM sync.calendar_events_known WHERE user_id = 'u1'")
        assert [r["calendar_id"] for r in calendars] == [calendar_id]
        assert {r["event_id"] for r in known} == {"soon1"}, known

    async with world.start():
        await eventually(purged)


async def test_a_reconnection_reads_the_calendar_at_once(world: SyncWorld) -> None:
    """A sync that waited while the grant was dead (auth answered disconnected: the next try is
    the safety net's, hours away) runs as soon as the user reconnects."""
    world.add_account("u1", EMAIL)
    clock = ManualClock(datetime.now(UTC))
    async with world.start(clock=clock):
        calendar_id = await _started(world)
        lists = _lists(world.emulator)
        await world.broker.publish(
            m.GrantDisconnected(user_id="u1", grant_id="g-u1", reason="revoked", since=clock.now())
        )
        await eventually(lambda: _grant_state(world.db, "disconnected"))
        await world.broker.publish(connected("u1", EMAIL, cause="reconnected"))

        async def read_again() -> None:
            assert _lists(world.emulator) > lists
            await _idle_after(world.db)

        await eventually(read_again)
        assert (await _row(world.db))["calendar_id"] == calendar_id


async def _grant_state(db: asyncpg.Pool, state: str) -> None:
    assert await db.fetchval("SELECT state FROM sync.grant_states WHERE user_id = 'u1'") == state
