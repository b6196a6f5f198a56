"""What an event seen in Google means: our own writes and deletions are silent, the user's move,
deletion or rewrite of our event is an external change, other events are announced once, and a
full list's missing events count as deleted within its window."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.sync.domain import inbound
from services.sync.domain.inbound import Known, Meaning, Seen, Written

CAL = "alice@example.com"
START = {"dateTime": "2030-03-04T10:00:00+01:00", "timeZone": "Europe/Berlin"}
END = {"dateTime": "2030-03-04T11:00:00+01:00", "timeZone": "Europe/Berlin"}
WRITTEN = Written(
    "a1",
    CAL,
    "cs1",
    2,
    False,
    {"dateTime": "2030-03-04T09:00:00+00:00"},
    {"dateTime": "2030-03-04T10:00:00Z"},
)
OURS = Seen("cs1", "confirmed", START, END, True, '"e2"', "a1", 2)
THEIRS = Seen("x1", "confirmed", START, END, True, '"e1"', None, None)


def _known(event: Seen, **changes: Any) -> Known:
    return replace(inbound.remembered(event, event.appointment_id), **changes)


def test_our_own_write_is_silent_whatever_the_offset_notation() -> None:
    assert inbound.meaning(OURS, None, WRITTEN, CAL) == Meaning(None, None, "a1", remember=True)


def test_a_write_of_a_newer_version_in_flight_is_ours() -> None:
    pending = replace(WRITTEN, version=3, start={"dateTime": "2030-03-05T09:00:00Z"})
    assert inbound.meaning(OURS, None, pending, CAL).external is None


def test_the_user_moving_our_event_is_announced_once() -> None:
    moved = replace(OURS, start={"dateTime": "2030-03-04T12:00:00+01:00"}, etag='"e3"')
    first = inbound.meaning(moved, _known(OURS), WRITTEN, CAL)
    assert (first.announce, first.external) == ("changed", "moved")
    assert inbound.meaning(moved, _known(moved), WRITTEN, CAL).external is None


def test_our_event_without_our_tag_any_more_was_edited() -> None:
    rewritten = replace(OURS, appointment_id=None, tag_version=None, etag='"e9"')
    assert inbound.meaning(rewritten, None, WRITTEN, CAL).external == "edited"


def test_the_user_deleting_our_event_is_external_but_our_deletion_is_not() -> None:
    stub = Seen("cs1", "cancelled", None, None, True, '"e4"', None, None)
    assert inbound.meaning(stub, _known(OURS), WRITTEN, CAL) == Meaning("deleted", "deleted", "a1", True)
    cancelled = replace(WRITTEN, cancelled=True, start=None, end=None)
    assert inbound.meaning(stub, _known(OURS), cancelled, CAL).announce is None
    moved_by_sync = replace(WRITTEN, calendar_id="team@group.calendar.google.com")
    assert inbound.meaning(stub, _known(OURS), moved_by_sync, CAL).announce is None


def test_a_deletion_is_announced_once() -> None:
    stub = Seen("x1", "cancelled", None, None, True, None, None, None)
    assert inbound.meaning(stub, _known(THEIRS), None, CAL).announce == "deleted"
    tombstone = _known(THEIRS, status="cancelled")
    assert inbound.meaning(stub, tombstone, None, CAL).announce is None
    assert inbound.meaning(stub, None, None, CAL) == Meaning(None, None, None, remember=False)


def test_other_events_are_announced_when_new_or_changed() -> None:
    assert inbound.meaning(THEIRS, None, None, CAL).announce == "changed"
    assert inbound.meaning(THEIRS, _known(THEIRS), None, CAL).announce is None
    free = replace(THEIRS, busy=False, etag='"e2"')
    assert inbound.meaning(free, _known(THEIRS), None, CAL).announce == "changed"


def test_known_events_missing_from_a_full_list_within_its_window_were_deleted() -> None:
    window = datetime(2030, 3, 1, tzinfo=UTC)
    inside, listed = _known(THEIRS), _known(replace(THEIRS, event_id="x2"))
    before = _known(replace(THEIRS, event_id="x3", end={"date": "2030-03-01"}))
    tombstone = _known(THEIRS, event_id="x4", status="cancelled")
    assert inbound.missing([inside, listed, before, tombstone], {"x2"}, window) == [inside]
    assert inbound.missing([inside], set(), window + timedelta(days=10)) == []


def test_seen_reads_only_our_source_tag() -> None:
    event = {
        "id": "cs1",
        "etag": '"e1"',
        "start": START,
        "end": END,
        "transparency": "transparent",
        "extendedProperties": {
            "private": {"calsyncAppointmentId": "a1", "calsyncVersion": "2", "calsyncSource": "calsync"}
        },
    }
    assert inbound.seen(event, "calsync") == replace(OURS, busy=False, etag='"e1"')
    assert inbound.seen(event, "other").appointment_id is None


def test_messages_carry_the_calendar_zone_for_times_without_one() -> None:
    moved = replace(
        OURS, start={"dateTime": "2030-03-04T12:00:00Z"}, end={"dateTime": "2030-03-04T13:00:00Z"}
    )
    changed, external = inbound.messages(
        "u1", CAL, moved, Meaning("changed", "moved", "a1", True), "Europe/Berlin"
    )
    assert changed.model_dump()["start"]["time_zone"] == "Europe/Berlin"
    assert external.model_dump()["change"] == "moved"
