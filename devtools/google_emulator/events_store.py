"""Event storage rules of the emulated Calendar: ids, etags, change sequence numbers, patch
merging and extended-property limits (google.md §8), plus edits "made by the user in Google"."""

from __future__ import annotations

import copy
import re
from typing import Any

from .state import CalendarData, EventRecord, new_event_id, now_ms, rfc3339

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
READ_ONLY = {"kind", "etag", "id", "htmlLink", "created", "updated", "creator", "iCalUID"}
_KEY_MAX, _VALUE_MAX = 44, 1024


def _clip_properties(event: dict[str, Any]) -> None:
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


class EventsMixin:
    """Event mutations shared by the Calendar handlers and the emulator's Python API."""

    calendars: dict[str, CalendarData]

    def _on_calendar_changed(self, calendar_id: str) -> None:
        """Hook for push notifications (implemented by the channels mixin)."""

    def _stamp(self, cal: CalendarData, data: dict[str, Any]) -> None:
        cal.seq += 1
        ms = now_ms()
        data["etag"] = f'"{ms}{cal.seq:06d}"'
        data["updated"] = rfc3339(ms)

    def _store(self, cal: CalendarData, data: dict[str, Any]) -> dict[str, Any]:
        _clip_properties(data)
        self._stamp(cal, data)
        cal.events[data["id"]] = EventRecord(data, cal.seq)
        self._on_calendar_changed(cal.id)
        return copy.deepcopy(data)

    def create_event(self, cal: CalendarData, body: dict[str, Any], creator: str) -> dict[str, Any]:
        event_id = body.get("id") or new_event_id()
        created = rfc3339(now_ms())
        data: dict[str, Any] = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
            "created": created,
            "creator": {"email": creator, "self": True},
            "organizer": {"email": cal.id, "self": True},
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        data.update({k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY})
        return self._store(cal, data)

    def replace_event(self, cal: CalendarData, record: EventRecord, body: dict[str, Any]) -> dict:
        kept = {k: v for k, v in record.data.items() if k in READ_ONLY | {"organizer"}}
        data = {"status": "confirmed", "sequence": 0, **kept}
        data.update({k: copy.deepcopy(v) for k, v in body.items() if k not in READ_ONLY})
        return self._store(cal, data)

    def patch_event(self, cal: CalendarData, record: EventRecord, body: dict[str, Any]) -> dict:
        data = copy.deepcopy(record.data)
        merge_patch(data, {k: v for k, v in body.items() if k not in READ_ONLY})
        return self._store(cal, data)

    def cancel_event(self, cal: CalendarData, record: EventRecord) -> None:
        record.data["status"] = "cancelled"
        self._store(cal, record.data)

    def user_put_event(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """A change made by the user in Google Calendar: insert, or patch the event with this id."""
        cal = self.calendars[calendar_id]
        record = cal.events.get(event.get("id", ""))
        if record is None:
            return self.create_event(cal, event, calendar_id)
        return self.patch_event(cal, record, event)

    def user_delete_event(self, calendar_id: str, event_id: str) -> None:
        """The user deleted the event in Google Calendar."""
        cal = self.calendars[calendar_id]
        self.cancel_event(cal, cal.events[event_id])

    def invalidate_sync_tokens(self, calendar_id: str | None = None) -> None:
        """Make sync tokens issued so far (for one calendar or all) answer 410 fullSyncRequired."""
        for cal in self.calendars.values():
            if calendar_id is None or cal.id == calendar_id:
                cal.sync_generation += 1
        if calendar_id is None:
            self._invalidate_list_tokens()

    def _invalidate_list_tokens(self) -> None:
        """Implemented by the listing mixin."""
