"""How an appointment looks in Google Calendar: every field, time zones, all-day, tentative,
attendees without invitations, the source link and our private tag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.sync.domain import mapping
from shared import messages as m

RULES = mapping.MappingRules(url_template="https://app.example.com/appointments/{appointment_id}")


def appointment(**changes: object) -> m.AppointmentUpdated:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    fields: dict[str, object] = {
        "appointment_id": "apt/4711",
        "version": 3,
        "owner_user_id": "u1",
        "account_id": "acc",
        "title": "Beratung",
        "start": m.EventTime(date_time=start, time_zone="Europe/Berlin"),
        "end": m.EventTime(date_time=start + timedelta(hours=1), time_zone="Europe/Berlin"),
    }
    fields.update(changes)
    return m.AppointmentUpdated.model_validate(fields)


def test_timed_appointments_keep_their_offset_and_time_zone() -> None:
    """Start and end are RFC 3339 with the offset, plus the IANA zone for recurring rules and display."""
    body = mapping.insert_body(appointment(), RULES, "cs0123456789")
    assert body["start"] == {"dateTime": "2026-03-02T09:00:00+01:00", "timeZone": "Europe/Berlin"}
    assert body["end"]["dateTime"] == "2026-03-02T10:00:00+01:00"
    assert body["id"] == "cs0123456789" and body["summary"] == "Beratung"


def test_all_day_appointments_use_dates_with_an_exclusive_end() -> None:
    """An all-day appointment is sent as dates only."""
    body = mapping.insert_body(
        appointment(start=m.EventTime(date=date(2026, 3, 5)), end=m.EventTime(date=date(2026, 3, 6))),
        RULES,
        "csabcde",
    )
    assert body["start"] == {"date": "2026-03-05"} and body["end"] == {"date": "2026-03-06"}


def test_tentative_stays_tentative_and_everything_else_is_confirmed() -> None:
    """Google knows tentative and confirmed; the platform's status is carried over."""
    assert mapping.event_body(appointment(status="tentative"), RULES)["status"] == "tentative"
    assert mapping.event_body(appointment(), RULES)["status"] == "confirmed"


def test_attendees_are_listed_with_their_names() -> None:
    """Attendees carry email and displayName (only when the platform knows a name)."""
    attendees = [m.Attendee(email="a@example.com", name="Erika"), m.Attendee(email="b@example.com")]
    body = mapping.event_body(appointment(attendees=attendees), RULES)
    assert body["attendees"] == [
        {"email": "a@example.com", "displayName": "Erika"},
        {"email": "b@example.com"},
    ]


def test_the_source_link_points_at_the_appointment_with_its_id_escaped() -> None:
    """The event links back to the platform; the id is URL-escaped inside the template."""
    source = mapping.event_body(appointment(), RULES)["source"]
    assert source == {"title": "calsync", "url": "https://app.example.com/appointments/apt%2F4711"}


def test_the_private_tag_names_appointment_version_and_source_within_google_limits() -> None:
    """Keys stay within 44 characters and values within 1024, or Google would drop or cut them."""
    private = mapping.event_body(appointment(), RULES)["extendedProperties"]["private"]
    assert private == {"calsyncAppointmentId": "apt/4711", "calsyncVersion": "3", "calsyncSource": "calsync"}
    assert all(len(k) <= mapping.KEY_MAX and len(v) <= mapping.VALUE_MAX for k, v in private.items())
    with pytest.raises(ValueError, match="limits"):
        mapping.private_tag("x", 1, "s" * 1025)


def test_a_patch_clears_removed_fields_and_an_insert_omits_them() -> None:
    """A description removed on the platform is removed in Google (null in a patch)."""
    assert mapping.patch_body(appointment(), RULES)["description"] is None
    assert "description" not in mapping.insert_body(appointment(), RULES, "csabcde")


def test_our_events_are_recognised_by_the_tag() -> None:
    """An event is ours only if its private tag names this appointment."""
    event = {"extendedProperties": {"private": {"calsyncAppointmentId": "a1", "calsyncVersion": "4"}}}
    assert mapping.is_ours(event, "a1") and not mapping.is_ours(event, "a2")
    assert not mapping.is_ours({}, "a1")
    assert mapping.tagged_version(event) == 4 and mapping.tagged_version({}) is None


def test_all_day_values_are_never_shifted_by_the_local_zone() -> None:
    """The date of an all-day appointment is independent of the process time zone (tests run far from UTC)."""
    now = datetime.now(UTC)
    body = mapping.event_body(
        appointment(start=m.EventTime(date=now.date()), end=m.EventTime(date=now.date() + timedelta(days=1))),
        RULES,
    )
    assert body["start"]["date"] == now.date().isoformat()
