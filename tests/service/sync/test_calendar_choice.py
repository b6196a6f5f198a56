"""The user chooses another destination calendar: Google must confirm write access, upcoming
appointments move there (their old events are removed), and a calendar problem episode ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import asyncpg

from shared import messages as m
from tests.service.sync.support import SyncWorld, all_synced, booked, calendar_of, ours
from tests.support.helpers import eventually

EMAIL, TEAM, SHARED = "alice@example.com", "team@group.calendar.google.com", "board@group.calendar.google.com"


async def choose(
    sync_url: str, service_token: str, user_id: str, calendar_id: Any
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {service_token}"}) as http,
        http.put(f"{sync_url}/api/v1/users/{user_id}/calendar", json={"calendar_id": calendar_id}) as resp,
    ):
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def test_choosing_another_calendar_moves_upcoming_appointments(
    world: SyncWorld,
    probe: Callable[..., Any],
    service_token: str,
) -> None:
    """After the choice the appointments are in the chosen calendar, once, and no longer in the
    primary one; the notifier hears calendar.selected."""
    world.add_account("u1", EMAIL)
    world.emulator.add_calendar(EMAIL, TEAM, "Team", access_role="writer")
    selected = await probe(m.SYNC_EVENTS, "sync.calendar.selected")
    async with world.start() as sync:
        await world.connect("u1", EMAIL)
        await world.book("u1", 3)
        await eventually(lambda: all_synced(world.db, 3))
        assert await choose(sync.url, service_token, "u1", TEAM) == (
            200,
            {"user_id": "u1", "calendar_id": TEAM},
        )
        assert (await selected.next_json())["calendar_id"] == TEAM
        await eventually(lambda: _in(world.db, TEAM, 3))
    assert sorted(ours(world.emulator, TEAM)) == ["a0", "a1", "a2"]
    assert all(len(copies) == 1 for copies in ours(world.emulator, TEAM).values())
    assert ours(world.emulator, EMAIL) == {}


async def test_a_calendar_the_user_cannot_write_to_is_refused(
    world: SyncWorld,
    service_token: str,
) -> None:
    """Read-only, unknown, or malformed choices are refused with a reason; the destination stays."""
    world.add_account("u1", EMAIL)
    world.emulator.add_calendar(EMAIL, SHARED, "Board", access_role="reader")
    async with world.start() as sync:
        assert (await choose(sync.url, service_token, "u1", SHARED))[1]["error"] == "not_connected"
        await world.connect("u1", EMAIL)
        status, body = await choose(sync.url, service_token, "u1", SHARED)
        assert (status, body["error"]) == (422, "not_writable")
        status, body = await choose(sync.url, service_token, "u1", "nobody@group.calendar.google.com")
        assert (status, body["error"]) == (404, "unknown_calendar")
        status, body = await choose(sync.url, service_token, "u1", 42)
        assert (status, body["error"]) == (400, "invalid_calendar_id")
    assert await calendar_of(world.db, "u1") == EMAIL


async def _in(db: asyncpg.Pool, calendar_id: str, count: int) -> None:
    rows = await db.fetch("SELECT state, calendar_id FROM sync.appointments")
    assert len(rows) == count and all((r["state"], r["calendar_id"]) == ("synced", calendar_id) for r in rows)


async def test_a_chosen_calendar_that_disappears_is_reported_and_a_new_choice_resumes(
    world: SyncWorld,
    probe: Callable[..., Any],
    service_token: str,
) -> None:
    """Google answering 404 for the chosen calendar gives calendar_unavailable once; choosing the
    primary calendar again writes the waiting appointment."""
    world.add_account("u1", EMAIL)
    world.emulator.add_calendar(EMAIL, TEAM, "Team", access_role="owner")
    problems = await probe(m.SYNC_EVENTS, "sync.calendar.problem")
    async with world.start() as sync:
        await world.connect("u1", EMAIL)
        assert (await choose(sync.url, service_token, "u1", TEAM))[0] == 200
        world.emulator.remove_calendar(EMAIL, TEAM)
        await world.broker.publish(booked("a1", "u1"))
        problem = await problems.next_json()
        assert (problem["problem"], problem["calendar_id"]) == ("calendar_unavailable", TEAM)
        assert await choose(sync.url, service_token, "u1", "primary") == (
            200,
            {"user_id": "u1", "calendar_id": EMAIL},
        )
        await eventually(lambda: _in(world.db, EMAIL, 1))
    assert sorted(ours(world.emulator, EMAIL)) == ["a1"] and problems.pending() == 0
