"""Every Calendar request is checked against the discovery document, over HTTP (sync outbound)."""

from __future__ import annotations

import aiohttp

from devtools.google_emulator import GoogleEmulator
from tests.support.calendar_events import full_event

from .conftest import call

CALENDAR = "alice@example.com"


def _events_url(emu: GoogleEmulator) -> str:
    return emu.calendar_base_url + f"calendars/{CALENDAR}/events"


async def test_unknown_query_parameter_is_rejected(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """An undeclared query parameter answers Google's 400 badRequest body and stores nothing."""
    status, body = await call(
        http, "POST", _events_url(emu), headers, params={"notify": "all"}, json=full_event()
    )
    assert status == 400 and body["error"]["code"] == 400
    assert body["error"]["errors"][0]["reason"] == "badRequest" and "notify" in body["error"]["message"]
    assert emu.events(CALENDAR) == []


async def test_bad_parameter_values_are_rejected(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """sendUpdates=maybe and maxResults=abc are 400 invalidParameter naming the parameter."""
    status, body = await call(
        http, "POST", _events_url(emu), headers, params={"sendUpdates": "maybe"}, json=full_event()
    )
    assert status == 400 and body["error"]["errors"][0]["location"] == "sendUpdates"
    status, body = await call(http, "GET", _events_url(emu), headers, params={"maxResults": "abc"})
    assert (status, body["error"]["errors"][0]["reason"]) == (400, "invalidParameter")
    list_url = emu.calendar_base_url + "users/me/calendarList"
    status, _ = await call(http, "GET", list_url, headers, params={"minAccessRole": "boss"})
    assert status == 400


async def test_unknown_or_mistyped_body_fields_are_rejected(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """Insert, patch, update and watch reject unknown nested fields and wrong JSON types."""
    url = _events_url(emu)
    status, created = await call(http, "POST", url, headers, json=full_event())
    assert status == 200
    one = f"{url}/{created['id']}"
    for method, target, body in (
        ("POST", url, {**full_event(), "id": "abcde12345", "start": {"date": "2031-03-10", "foo": 1}}),
        ("PATCH", one, {"attendees": [{"email": "a@example.com", "bar": 1}]}),
        ("PATCH", one, {"extendedProperties": {"private": {"rev": 4}}}),
        ("PUT", one, {**full_event(), "summary": ["x"]}),
        ("POST", url + "/watch", {"id": "c1", "type": "web_hook", "address": "https://x.example", "tll": 1}),
    ):
        status, answer = await call(http, method, target, headers, json=body)
        assert (status, answer["error"]["errors"][0]["reason"]) == (400, "badRequest"), body
    assert emu.events(CALENDAR)[0]["etag"] == created["etag"]


async def test_valid_full_event_round_trips(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """A full event with sendUpdates=none is stored; output-only fields sent along are ignored."""
    status, created = await call(
        http, "POST", _events_url(emu), headers, params={"sendUpdates": "none"}, json=full_event()
    )
    assert status == 200, created
    assert created["status"] == "tentative" and created["source"]["title"] == "Booking"
    assert created["extendedProperties"]["private"] == {"appt": "a-1", "rev": "3"}
    assert created["etag"] != '"123"' and created["created"] != "2031-01-01T00:00:00.000Z"
    assert created["start"]["timeZone"] == "Pacific/Chatham"
