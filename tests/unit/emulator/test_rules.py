"""Pure rules of the emulated Calendar and the vendored discovery document."""

from __future__ import annotations

from typing import Any

from devtools.google_emulator.errors import api_error_body
from devtools.google_emulator.event_rules import EVENT_ID, clip_properties, merge_patch
from shared.google import load_calendar_discovery


def test_patch_merges_objects_and_null_deletes() -> None:
    """Patch merges nested objects key by key, null removes a key, lists are replaced."""
    event: dict[str, Any] = {
        "summary": "a",
        "extendedProperties": {"private": {"k": "1", "gone": "x"}},
        "attendees": [{"email": "x@example.com"}],
    }
    merge_patch(
        event, {"extendedProperties": {"private": {"k": "2", "gone": None}}, "attendees": [], "summary": None}
    )
    assert event == {"extendedProperties": {"private": {"k": "2"}}, "attendees": []}


def test_extended_property_limits() -> None:
    """Over-long keys are dropped and over-long values truncated, silently, as Google does."""
    event: dict[str, Any] = {"extendedProperties": {"private": {"k" * 45: "v", "ok": "x" * 2000}}}
    clip_properties(event)
    assert event["extendedProperties"]["private"] == {"ok": "x" * 1024}


def test_event_id_alphabet() -> None:
    """Client ids are base32hex (a-v, 0-9), 5 to 1024 characters."""
    assert EVENT_ID.match("0123456789abcdefghijklmnopqrstuv")
    assert EVENT_ID.match("3f2c9a1b7e6d4c5a8b9e0f1a2b3c4d5e")  # uuid4().hex
    for bad in ("abcd", "abcdw", "ABCDE", "abc-def", "a" * 1025):
        assert not EVENT_ID.match(bad)


def test_error_body_shape() -> None:
    """Calendar errors carry code, message and errors[0] with domain, reason and location."""
    body = api_error_body(410, "fullSyncRequired", "m", domain="calendar", location="syncToken")
    assert body == {
        "error": {
            "code": 410,
            "message": "m",
            "errors": [
                {
                    "domain": "calendar",
                    "reason": "fullSyncRequired",
                    "message": "m",
                    "locationType": "parameter",
                    "location": "syncToken",
                }
            ],
        }
    }


def test_discovery_loader_returns_fresh_copies() -> None:
    """Each load is an independent dict, so a mutating consumer cannot affect the next one."""
    first, second = load_calendar_discovery(), load_calendar_discovery()
    first["rootUrl"] = "http://changed/"
    assert second["rootUrl"] == "https://www.googleapis.com/" and second["revision"] == "20261030"
    assert second["resources"]["events"]["methods"]["watch"]["path"] == "calendars/{calendarId}/events/watch"
