"""Appointment → Google Calendar event body (pure): only fields of the Calendar v3 discovery
document, with our private tag so that sync recognises its own events later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shared import messages as m

KEY_MAX, VALUE_MAX = 44, 1024  # Google drops longer keys and truncates longer values silently
TAG_APPOINTMENT = "calsyncAppointmentId"
TAG_VERSION = "calsyncVersion"
TAG_SOURCE = "calsyncSource"
SEND_UPDATES = ("none", "externalOnly", "all")
# Fields sync owns on the event; a patch sends each of them (null clears a removed optional one).
OWNED = ("summary", "description", "location", "start", "end", "status", "attendees", "source")

AppointmentBody = m.AppointmentCreated | m.AppointmentUpdated


@dataclass(frozen=True)
class MappingRules:
    """How events look: the source link template, its title, and the tag naming our platform."""

    url_template: str = "https://app.example.com/appointments/{appointment_id}"
    source_title: str = "calsync"
    source_tag: str = "calsync"


def private_tag(appointment_id: str, version: int, source_tag: str) -> dict[str, str]:
    """``extendedProperties.private``: appointment id, version and source, within Google's limits."""
    tag = {TAG_APPOINTMENT: appointment_id, TAG_VERSION: str(version), TAG_SOURCE: source_tag}
    for key, value in tag.items():
        if len(key) > KEY_MAX or len(value) > VALUE_MAX:
            raise ValueError(f"private property {key!r} exceeds Google's limits")
    return tag


def event_time(value: m.EventTime) -> dict[str, str]:
    """``{date}`` for all-day, ``{dateTime, timeZone}`` (RFC 3339 with offset) otherwise."""
    if value.date is not None:
        return {"date": value.date.isoformat()}
    assert value.date_time is not None and value.time_zone is not None  # checked by the schema
    return {"dateTime": value.date_time.isoformat(), "timeZone": value.time_zone}


def source_url(rules: MappingRules, appointment_id: str) -> str:
    return rules.url_template.format(appointment_id=quote(appointment_id, safe=""))


def event_body(appointment: AppointmentBody, rules: MappingRules) -> dict[str, Any]:
    """The full event as sync wants it; optional fields the appointment lacks are None."""
    attendees = [
        {"email": a.email, **({"displayName": a.name} if a.name else {})} for a in appointment.attendees
    ]
    return {
        "summary": appointment.title,
        "description": appointment.description,
        "location": appointment.location,
        "start": event_time(appointment.start),
        "end": event_time(appointment.end),
        "status": "tentative" if appointment.status == "tentative" else "confirmed",
        "attendees": attendees,
        "source": {"title": rules.source_title, "url": source_url(rules, appointment.appointment_id)},
        "extendedProperties": {
            "private": private_tag(appointment.appointment_id, appointment.version, rules.source_tag)
        },
    }


def insert_body(appointment: AppointmentBody, rules: MappingRules, event_id: str) -> dict[str, Any]:
    """An ``events.insert`` body: the event with our id, without empty optional fields."""
    body = {k: v for k, v in event_body(appointment, rules).items() if v is not None}
    return {"id": event_id, **body}


def patch_body(appointment: AppointmentBody, rules: MappingRules) -> dict[str, Any]:
    """An ``events.patch`` body: every field we own (null deletes a removed one); the user's own
    additions (reminders, colour, other private keys) are left alone."""
    return event_body(appointment, rules)


def is_ours(event: dict[str, Any], appointment_id: str) -> bool:
    """Whether a Google event carries our private tag for ``appointment_id``."""
    props = event.get("extendedProperties")
    private = props.get("private") if isinstance(props, dict) else None
    return isinstance(private, dict) and private.get(TAG_APPOINTMENT) == appointment_id


def tagged_version(event: dict[str, Any]) -> int | None:
    """The appointment version an event of ours was last written at."""
    props = event.get("extendedProperties")
    private = props.get("private") if isinstance(props, dict) else None
    raw = private.get(TAG_VERSION) if isinstance(private, dict) else None
    try:
        return int(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
