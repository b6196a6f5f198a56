"""Calendar rules of the emulator not covered by the client contract suite (docs/google.md §6-7, §10)."""

from __future__ import annotations

from typing import Any

import aiohttp

from devtools.google_emulator import GoogleEmulator

TEAM = "team@group.calendar.google.com"


async def _get(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], **params: str
) -> tuple[int, Any]:
    async with http.get(url, headers=headers, params=params) as resp:
        return resp.status, await resp.json()


async def test_unauthenticated_bodies(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """No token is 401 required; a bad token is Google's exact 401 authError body."""
    url = emu.calendar_base_url + "users/me/calendarList"
    status, body = await _get(http, url, {})
    assert (status, body["error"]["errors"][0]["reason"]) == (401, "required")
    status, body = await _get(http, url, {"Authorization": "Bearer ya29.nope"})
    assert body["error"]["code"] == 401 and body["error"]["errors"] == [
        {
            "domain": "global",
            "reason": "authError",
            "message": "Invalid Credentials",
            "locationType": "header",
            "location": "Authorization",
        }
    ]


async def test_calendar_list_roles_paging_and_sync(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """calendarList filters by role, pages, and its sync token returns removed entries as deleted."""
    emu.add_calendar("alice@example.com", TEAM, "Team", access_role="reader")
    emu.add_calendar("alice@example.com", "shared@group.calendar.google.com", "Shared", access_role="writer")
    url = emu.calendar_base_url + "users/me/calendarList"
    _, writers = await _get(http, url, headers, minAccessRole="writer")
    assert {i["id"] for i in writers["items"]} == {"alice@example.com", "shared@group.calendar.google.com"}
    _, first = await _get(http, url, headers, maxResults="2")
    assert len(first["items"]) == 2 and "nextSyncToken" not in first
    _, last = await _get(http, url, headers, maxResults="2", pageToken=first["nextPageToken"])
    assert len(last["items"]) == 1
    emu.remove_calendar("alice@example.com", TEAM)
    _, changes = await _get(http, url, headers, syncToken=last["nextSyncToken"])
    assert changes["items"] == [{**changes["items"][0], "id": TEAM, "deleted": True}]
    status, _ = await _get(http, url, headers, syncToken=last["nextSyncToken"], minAccessRole="writer")
    assert status == 400


async def test_full_list_hides_cancelled_unless_show_deleted(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """A full list omits deleted events unless showDeleted=true; timeMin bounds the window."""
    emu.user_put_event(
        "alice@example.com",
        {"id": "keep00001", "start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}},
    )
    emu.user_put_event(
        "alice@example.com",
        {"id": "gone00001", "start": {"date": "2030-02-01"}, "end": {"date": "2030-02-02"}},
    )
    emu.user_delete_event("alice@example.com", "gone00001")
    url = emu.calendar_base_url + "calendars/primary/events"
    _, plain = await _get(http, url, headers)
    _, shown = await _get(http, url, headers, showDeleted="true")
    _, later = await _get(http, url, headers, timeMin="2030-01-15T00:00:00Z", showDeleted="true")
    assert [i["id"] for i in plain["items"]] == ["keep00001"]
    assert {i["id"] for i in shown["items"]} == {"keep00001", "gone00001"}
    assert [i["id"] for i in later["items"]] == ["gone00001"]


async def test_unknown_calendar_is_not_found(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """A calendar the user has no access to is 404 notFound."""
    status, body = await _get(http, emu.calendar_base_url + "calendars/other%40example.com/events", headers)
    assert (status, body["error"]["errors"][0]["reason"]) == (404, "notFound")
