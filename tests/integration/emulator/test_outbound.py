"""What sync's outbound writes rely on in the emulator: calendarList roles, client ids, per-copy
private tags, dead tokens, rate limits, password changes and Calendar latency (docs/google.md §4, §7-8)."""

from __future__ import annotations

import time

import aiohttp
import pytest

from devtools.google_emulator import GoogleEmulator
from tests.support.calendar_events import full_event

from .conftest import EVENTS, bearer, call

TEAM = "team@group.calendar.google.com"
GMAIL = "https://www.googleapis.com/auth/gmail.readonly"


def _events(emu: GoogleEmulator, calendar_id: str) -> str:
    return emu.calendar_base_url + f"calendars/{calendar_id}/events"


async def test_calendar_list_roles_are_per_user(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """Each user sees their own accessRole; primary is true on their own calendar only; "primary"
    resolves to the real id; minAccessRole=owner keeps only owned calendars."""
    emu.add_user("bob@example.com")
    emu.add_calendar("alice@example.com", TEAM, "Team", access_role="writer")
    emu.add_calendar("bob@example.com", TEAM, "Team", access_role="reader")
    url = emu.calendar_base_url + "users/me/calendarList"
    for email, role in (("alice@example.com", "writer"), ("bob@example.com", "reader")):
        _, page = await call(http, "GET", url, bearer(emu, email))
        entries = {e["id"]: e for e in page["items"]}
        assert entries[TEAM]["accessRole"] == role and "primary" not in entries[TEAM]
        assert entries[email]["primary"] is True and entries[email]["accessRole"] == "owner"
        _, owned = await call(http, "GET", url, bearer(emu, email), params={"minAccessRole": "owner"})
        assert [e["id"] for e in owned["items"]] == [email]
        _, primary = await call(http, "GET", url + "/primary", bearer(emu, email))
        assert primary["id"] == email and primary["primary"] is True


async def test_client_ids_and_deleted_ids(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """Ids of 5 and 1024 base32hex characters are accepted, 4 and 1025 are not; an id the user
    deleted in Google stays taken (409) and reads back as cancelled."""
    headers, url = bearer(emu), _events(emu, "alice@example.com")
    for event_id, status in (("abcde", 200), ("v" * 1024, 200), ("abcd", 400), ("a" * 1025, 400)):
        got, _ = await call(http, "POST", url, headers, json={**full_event(), "id": event_id})
        assert got == status, event_id
    emu.user_delete_event("alice@example.com", "abcde")
    status, body = await call(http, "POST", url, headers, json={**full_event(), "id": "abcde"})
    assert (status, body["error"]["errors"][0]["reason"]) == (409, "duplicate")
    status, body = await call(http, "GET", url + "/abcde", headers)
    assert (status, body["status"]) == (200, "cancelled")
    status, body = await call(http, "DELETE", url + "/abcde", headers)
    assert (status, body["error"]["errors"][0]["reason"]) == (410, "deleted")


async def test_private_tags_are_per_calendar_copy(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """The same event id on two calendars keeps a separate extendedProperties.private on each."""
    emu.add_calendar("alice@example.com", TEAM, "Team", access_role="writer")
    headers = bearer(emu)
    for calendar_id, rev in (("alice@example.com", "1"), (TEAM, "7")):
        body = {**full_event(), "extendedProperties": {"private": {"appt": "a-1", "rev": rev}}}
        assert (await call(http, "POST", _events(emu, calendar_id), headers, json=body))[0] == 200
    patch = {"extendedProperties": {"private": {"rev": "2"}}}
    event_id = full_event()["id"]
    await call(http, "PATCH", f"{_events(emu, 'alice@example.com')}/{event_id}", headers, json=patch)
    revs = {
        cal: emu.events(cal)[0]["extendedProperties"]["private"]["rev"] for cal in ("alice@example.com", TEAM)
    }
    assert revs == {"alice@example.com": "2", TEAM: "7"}


async def test_dead_access_tokens_are_401(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """A token expired for one user is 401 authError while another user's still works; a revoked
    user's token is 401 too."""
    emu.add_user("bob@example.com")
    alice, bob = bearer(emu), bearer(emu, "bob@example.com")
    emu.expire_access_tokens("alice@example.com")
    status, body = await call(http, "GET", _events(emu, "primary"), alice)
    assert (status, body["error"]["errors"][0]["reason"]) == (401, "authError")
    assert (await call(http, "GET", _events(emu, "primary"), bob))[0] == 200
    emu.revoke_user("bob@example.com")
    assert (await call(http, "GET", _events(emu, "primary"), bob))[0] == 401


async def test_password_change_ends_gmail_grants_only(emu: GoogleEmulator) -> None:
    """A password change kills grants holding a Gmail scope; Calendar-only grants survive unless
    asked to behave like the older docs."""
    calendar_only = emu.add_grant("alice@example.com", [EVENTS])
    with_gmail = emu.add_grant("alice@example.com", [EVENTS, GMAIL])
    emu.change_password("alice@example.com")
    assert with_gmail.revoked and not calendar_only.revoked
    assert with_gmail.refresh_token in emu.revoked_tokens
    emu.change_password("alice@example.com", revokes_calendar=True)
    assert calendar_only.revoked


async def test_rate_limit_after_some_calls(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """rate_limit(2, after=1) lets one call through, answers two 403 rateLimitExceeded, then recovers."""
    headers, url = bearer(emu), _events(emu, "primary")
    emu.rate_limit(2, after=1)
    statuses = []
    for _ in range(4):
        status, body = await call(http, "GET", url, headers)
        statuses.append((status, body["error"]["errors"][0]["reason"] if status != 200 else None))
    assert statuses == [(200, None), (403, "rateLimitExceeded"), (403, "rateLimitExceeded"), (200, None)]


async def test_calendar_latency_range(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """set_calendar_latency(30, 50) holds Calendar answers 30-50 ms and leaves OAuth alone."""
    emu.set_calendar_latency(30, 50)
    delays = [emu.response_delay("/calendar/v3/users/me/calendarList") for _ in range(100)]
    assert all(0.03 <= d <= 0.05 for d in delays) and emu.response_delay("/token") == 0.0
    started = time.perf_counter()
    assert (await call(http, "GET", _events(emu, "primary"), bearer(emu)))[0] == 200
    assert time.perf_counter() - started >= 0.03


async def test_admin_events_view_needs_a_known_calendar(
    http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """GET /_emulator/events without calendar_id, or for an unknown calendar, is a clear 400."""
    for params in ({}, {"calendar_id": "nobody@example.com"}):
        async with http.get(emu.base_url + "/_emulator/events", params=params) as resp:
            assert resp.status == 400 and "calendar" in (await resp.json())["error"]


@pytest.mark.parametrize("op", ["seed_event", "user_put_event"])
async def test_seeded_events_over_http(http: aiohttp.ClientSession, emu: GoogleEmulator, op: str) -> None:
    """An event seeded over the admin API is what the Calendar API then returns."""
    body = {"calendar_id": "alice@example.com", "event": {**full_event(), "id": "seed12345"}}
    async with http.post(f"{emu.base_url}/_emulator/{op}", json=body) as resp:
        assert resp.status == 200
    status, event = await call(http, "GET", _events(emu, "primary") + "/seed12345", bearer(emu))
    assert (status, event["summary"]) == (200, "Dentist")
