"""A connection test's probe event (pure): the body sync inserts to prove the destination calendar
takes writes, and deletes right away. Private, free, without reminders or attendees, on a day far
in the future, tagged as ours; inbound sync never reports it (``event_ids.is_probe``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.sync.domain.mapping import TAG_SOURCE

TAG_PROBE = "calsyncConnectionTest"
YEARS_AHEAD = 30
SUMMARY = "calsync connection test (removed again at once)"


def body(event_id: str, source_tag: str, now: datetime) -> dict[str, Any]:
    """The probe's ``events.insert`` body: a quarter of an hour on 1 January, ``YEARS_AHEAD`` years on."""
    start = now.replace(
        year=now.year + YEARS_AHEAD, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    end = start + timedelta(minutes=15)
    return {
        "id": event_id,
        "summary": SUMMARY,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.isoformat(), "timeZone": "UTC"},
        "visibility": "private",
        "transparency": "transparent",
        "reminders": {"useDefault": False},
        "extendedProperties": {"private": {TAG_SOURCE: source_tag, TAG_PROBE: "1"}},
    }
