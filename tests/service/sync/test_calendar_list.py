"""The calendars a user may choose: Google's writable calendarList entries, the user's own names
for them, the current choice marked, and clear refusals while disconnected or Google is down."""

from __future__ import annotations

from typing import Any

import aiohttp

from shared import messages as m
from tests.service.sync.support import SyncWorld
from tests.service.sync.test_calendar_choice import choose
from tests.support.helpers import eventually

EMAIL, TEAM, BOARD = "alice@example.com", "team@group.calendar.google.com", "board@group.calendar.google.com"
LIST_PATH = "/calendar/v3/users/me/calendarList"


async def listed(sync_url: str, service_token: str, user_id: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {service_token}"}) as http,
        http.get(f"{sync_url}/api/v1/users/{user_id}/calendars") as resp,
    ):
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def test_the_writable_calendars_are_listed_with_the_choice_marked(
    world: SyncWorld, service_token: str
) -> None:
    """Primary first, read-only calendars left out, the user's own name shown; after a choice the
    chosen calendar is the one marked."""
    world.add_account("u1", EMAIL)
    world.emulator.add_calendar(EMAIL, TEAM, "Team", access_role="writer")
    world.emulator.rename_calendar(EMAIL, TEAM, "Our team")
    world.emulator.add_calendar(EMAIL, BOARD, "Board", access_role="reader")
    async with world.start() as sync:
        await world.connect("u1", EMAIL)
        status, body = await listed(sync.url, service_token, "u1")
        assert status == 200
        assert body == {
            "user_id": "u1",
            "calendar_id": EMAIL,
            "calendars": [
                {"id": EMAIL, "summary": EMAIL, "primary": True, "access_role": "owner", "chosen": True},
                {
                    "id": TEAM,
                    "summary": "Our team",
                    "primary": False,
                    "access_role": "writer",
                    "chosen": False,
                },
            ],
        }
        assert (await choose(sync.url, service_token, "u1", TEAM))[0] == 200
        _, body = await listed(sync.url, service_token, "u1")
        assert [(c["id"], c["chosen"]) for c in body["calendars"]] == [(EMAIL, False), (TEAM, True)]
    calls = [r for r in world.emulator.requests if r.path == LIST_PATH]
    assert calls and all(r.query.get("minAccessRole") == "writer" for r in calls)


async def test_listing_is_refused_clearly_when_disconnected_or_google_is_down(
    world: SyncWorld, service_token: str
) -> None:
    """An unknown or disconnected user gets 409 not_connected; Google failing gets 503."""
    world.add_account("u1", EMAIL)
    async with world.start() as sync:
        status, body = await listed(sync.url, service_token, "u1")
        assert (status, body["error"]) == (409, "not_connected")
        await world.connect("u1", EMAIL)
        world.emulator.fail_next(LIST_PATH, 503, "backendError")
        status, body = await listed(sync.url, service_token, "u1")
        assert (status, body["error"]) == (503, "google_unavailable")
        world.tokens.disconnected.add("u1")
        await world.broker.publish(
            m.GrantDisconnected(user_id="u1", grant_id="g-u1", reason="revoked", since=m._now())
        )

        async def refused() -> None:
            status, body = await listed(sync.url, service_token, "u1")
            assert (status, body.get("error")) == (409, "not_connected")

        await eventually(refused)
