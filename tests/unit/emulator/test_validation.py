"""The emulator's request validator, driven by the vendored Calendar discovery document."""

from __future__ import annotations

from typing import Any

from devtools.google_emulator.validation import check_body, check_query
from tests.support.calendar_events import full_event

INSERT = "calendar.events.insert"


def _reason(problem: dict[str, Any] | None) -> tuple[str, str | None] | None:
    if problem is None:
        return None
    item = problem["error"]["errors"][0]
    assert problem["error"]["code"] == 400 and item["domain"] == "global"
    return item["reason"], item.get("location")


def test_unknown_query_parameter_is_bad_request() -> None:
    """A query parameter the method does not declare is a 400 badRequest."""
    assert _reason(check_query(INSERT, [("sendUpdate", "all")])) == ("badRequest", None)


def test_query_values_are_typed_and_bounded() -> None:
    """Enum, integer, minimum, boolean and date-time parameters reject values outside their type."""
    assert _reason(check_query(INSERT, [("sendUpdates", "maybe")])) == ("invalidParameter", "sendUpdates")
    listing = "calendar.events.list"
    assert _reason(check_query(listing, [("maxResults", "abc")])) == ("invalidParameter", "maxResults")
    assert _reason(check_query(listing, [("maxResults", "0")])) == ("invalidParameter", "maxResults")
    assert _reason(check_query(listing, [("showDeleted", "yes")])) == ("invalidParameter", "showDeleted")
    assert _reason(check_query(listing, [("timeMin", "yesterday")])) == ("invalidParameter", "timeMin")
    assert _reason(check_query(listing, [("q", "a"), ("q", "b")])) == ("invalidParameter", "q")


def test_valid_and_system_query_parameters_pass() -> None:
    """Declared values, repeatable parameters and the standard system parameters are accepted."""
    query = [
        ("sendUpdates", "none"),
        ("conferenceDataVersion", "1"),
        ("alt", "json"),
        ("fields", "id,etag"),
        ("prettyPrint", "false"),
        ("quotaUser", "u1"),
        ("key", "k"),
    ]
    assert check_query(INSERT, query) is None
    repeated = [("privateExtendedProperty", "a=1"), ("privateExtendedProperty", "b=2"), ("maxResults", "5")]
    assert check_query("calendar.events.list", repeated) is None
    assert check_query("calendar.calendarList.list", [("minAccessRole", "writer")]) is None
    assert _reason(check_query("calendar.calendarList.list", [("minAccessRole", "boss")])) is not None


def test_full_event_with_output_only_fields_is_valid() -> None:
    """A complete event (timed and all-day, attendees, source, private tag, reminders) passes,
    output-only fields included: Google ignores those."""
    assert check_body(INSERT, full_event()) is None
    all_day = {**full_event(), "start": {"date": "2031-03-10"}, "end": {"date": "2031-03-11"}}
    assert check_body("calendar.events.update", all_day) is None


def test_unknown_fields_are_rejected_at_any_depth() -> None:
    """Unknown names at the top, inside start, inside an attendee or inside source are 400s."""
    for bad in (
        {"summery": "x"},
        {"start": {"dateTime": "2031-03-10T09:00:00Z", "foo": 1}},
        {"attendees": [{"email": "a@example.com"}, {"email": "b@example.com", "bar": True}]},
        {"source": {"title": "t", "link": "https://example.com"}},
    ):
        problem = check_body(INSERT, {**full_event(), **bad})
        assert _reason(problem) == ("badRequest", None), bad


def test_mistyped_fields_are_rejected() -> None:
    """A value of the wrong JSON type (or a date that is no date) is a 400."""
    for bad in (
        {"summary": 5},
        {"attendees": {"email": "a@example.com"}},
        {"reminders": {"useDefault": "no"}},
        {"reminders": {"overrides": [{"method": "popup", "minutes": "ten"}]}},
        {"extendedProperties": {"private": {"appt": 1}}},
        {"extendedProperties": {"private": ["appt"]}},
        {"start": {"date": "2031-02-30"}},
        {"sequence": True},
    ):
        assert _reason(check_body(INSERT, {**full_event(), **bad})) == ("badRequest", None), bad


def test_nulls_clear_fields_and_int64_accepts_string_or_number() -> None:
    """null is accepted anywhere (patch deletes); int64 fields take a numeric string or a number."""
    patch = {"extendedProperties": {"private": {"rev": None}}, "location": None}
    assert check_body("calendar.events.patch", patch) is None
    channel = {"id": "c1", "type": "web_hook", "address": "https://example.com/hook", "params": {"ttl": "60"}}
    assert check_body("calendar.events.watch", {**channel, "expiration": "1900000000000"}) is None
    assert check_body("calendar.events.watch", {**channel, "expiration": 1900000000000}) is None
    assert check_body("calendar.events.watch", {**channel, "expiration": "soon"}) is not None
    assert check_body("calendar.events.watch", {**channel, "params": {"ttl": 60}}) is not None
    assert check_body("calendar.channels.stop", {"id": "c1", "resourceId": "r", "extra": 1}) is not None
