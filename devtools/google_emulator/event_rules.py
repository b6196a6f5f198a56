"""Event storage rules of the emulated Calendar (docs/google.md §8): ids, etags, change sequence
numbers, patch merging and extended-property limits; pure functions over a `CalendarData`."""

from __future__ import annotations

import copy
import re
from typing import Any

from .records import CalendarData, EventRecord, new_event_id, now_ms, rfc3339

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
READ_ONLY = {"kind", "etag", "id", "htmlLink", "created", "updated", "creator", "iCalUID"}
_KEY_MAX, _VALUE_MAX = 44, 1024


def clip_properties(event: dict[str, Any]) -> None:
    """Google silently drops over-long keys and truncates over-long values."""
    props = event.get("extendedProperties")
    if not isinstance(props, dict):
        return
    for kind in ("private", "shared"):
        values = props.get(kind)
        if isinstance(values, dict):
            props[kind] = {
                k: v[:_VALUE_MAX] if isinstance(v, str) else v
                for k, v in values.items()
                if len(k) <= _KEY_MAX and v is not None
            }


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Patch semantics: objects merge key by key, null deletes, other values replace."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    """The body without output-only fields (Google ignores those silently)."""
    return {k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY}


def new_event(cal: CalendarData, body: dict[str, Any], creator: str) -> dict[str, Any]:
    """The stored form of an inserted event (client id kept, server fields filled in)."""
    event_id = body.get("id") or new_event_id()
    data: dict[str, Any] = {
        "kind": "calendar#event",
        "id": event_id,
        "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "created": rfc3339(now_ms()),
        "creator": {"email": creator, "self": True},
        "organizer": {"email": cal.id, "self": True},
        "iCalUID": f"{event_id}@google.com",
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
    }
    data.update(_writable(body))
    return data


def replaced(record: EventRecord, body: dict[str, Any]) -> dict[str, Any]:
    """events.update: omitted fields are cleared, server fields kept."""
    kept = {k: v for k, v in record.data.items() if k in READ_ONLY | {"organizer"}}
    data = {"status": "confirmed", "sequence": 0, **kept}
    data.update(_writable(body))
    return data


def patched(record: EventRecord, body: dict[str, Any]) -> dict[str, Any]:
    """events.patch: the stored event with the body merged in."""
    data = copy.deepcopy(record.data)
    merge_patch(data, _writable(body))
    return data


def store(cal: CalendarData, data: dict[str, Any]) -> dict[str, Any]:
    """Save a new version of an event (new etag, `updated`, change number); returns a copy."""
    clip_properties(data)
    cal.seq += 1
    ms = now_ms()
    data["etag"] = f'"{ms}{cal.seq:06d}"'
    data["updated"] = rfc3339(ms)
    cal.events[data["id"]] = EventRecord(data, cal.seq)
    return copy.deepcopy(data)
