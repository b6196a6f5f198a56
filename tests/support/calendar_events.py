"""A complete Calendar event body as our sync writes it, for emulator and client tests."""

from __future__ import annotations

from typing import Any


def full_event() -> dict[str, Any]:
    """Every field sync sends (timed start/end with zones, attendees, source, private tag,
    reminders) plus output-only fields a client may echo back."""
    return {
        "id": "0123456789abcdefghijklmnopqrstuv",
        "summary": "Dentist",
        "description": "Bring the card",
        "location": "Main St 1",
        "start": {"dateTime": "2031-03-10T09:00:00+13:45", "timeZone": "Pacific/Chatham"},
        "end": {"dateTime": "2031-03-10T09:30:00", "timeZone": "Pacific/Chatham"},
        "status": "tentative",
        "attendees": [{"email": "a@example.com", "optional": True, "responseStatus": "needsAction"}],
        "source": {"title": "Booking", "url": "https://example.com/b/1"},
        "extendedProperties": {"private": {"appt": "a-1", "rev": "3"}},
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]},
        "etag": '"123"',
        "kind": "calendar#event",
        "htmlLink": "https://www.google.com/calendar/event?eid=x",
        "created": "2031-01-01T00:00:00.000Z",
        "updated": "2031-01-01T00:00:00.000Z",
    }
