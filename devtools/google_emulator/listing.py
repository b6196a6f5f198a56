"""events.list of the emulated Calendar: filters, snapshot paging, incremental results with
syncToken, parameters forbidden with it and 410 after invalidation (docs/google.md §10)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from . import errors
from .access import Denied, authenticate, resolve_calendar
from .paging import Snapshot, SyncMark
from .records import CalendarData, EventRecord, now_ms, rfc3339
from .state import EmulatorState

FORBIDDEN_WITH_SYNC = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)


def gone() -> Denied:
    return Denied(
        errors.api_error(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
            domain="calendar",
            location="syncToken",
        )
    )


def page_size(request: web.Request, default: int, cap: int) -> int:
    raw = request.query.get("maxResults")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise Denied(errors.bad_param("maxResults", "Invalid Value"))
    return min(int(raw), cap)


def resumed(state: EmulatorState, request: web.Request, kind: str) -> web.Response | None:
    """The next page of an earlier snapshot when the request carries a pageToken."""
    token = request.query.get("pageToken")
    if token is None:
        return None
    snap = state.pages.snapshot(token)
    if snap is None:
        raise Denied(errors.bad_param("pageToken", "Invalid page token value."))
    return web.json_response(state.pages.page(snap, kind))


def _when(value: dict[str, Any] | None) -> datetime | None:
    if not value:
        return None
    raw = value.get("dateTime") or (value.get("date", "") + "T00:00:00Z")
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _parse_time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Denied(errors.bad_param(name, "Bad Request")) from None
    if parsed.tzinfo is None:
        raise Denied(errors.bad_param(name, "Bad Request"))
    return parsed


def _visible(record: EventRecord, request: web.Request) -> bool:
    data = record.data
    if data.get("status") == "cancelled" and request.query.get("showDeleted") != "true":
        return False
    private = data.get("extendedProperties", {}).get("private", {})
    for cond in request.query.getall("privateExtendedProperty", []):
        key, _, value = cond.partition("=")
        if private.get(key) != value:
            return False
    t_min, t_max = _parse_time(request, "timeMin"), _parse_time(request, "timeMax")
    start, end = _when(data.get("start")), _when(data.get("end"))
    if t_min and end and end <= t_min:
        return False
    return not (t_max and start and start >= t_max)


def _listed(record: EventRecord) -> dict[str, Any]:
    data = record.data
    if data.get("status") == "cancelled":
        return {k: data[k] for k in ("kind", "etag", "id", "status") if k in data}
    return copy.deepcopy(data)


def _changed(state: EmulatorState, request: web.Request, cal: CalendarData, sync: str) -> list[EventRecord]:
    for name in FORBIDDEN_WITH_SYNC:
        if name in request.query:
            raise Denied(errors.bad_param(name, f"{name} is not allowed with syncToken."))
    if request.query.get("showDeleted") == "false":
        raise Denied(errors.bad_param("showDeleted", "showDeleted=false with syncToken."))
    known = state.pages.sync_mark(sync)
    if known is None or (known.kind, known.owner, known.generation) != (
        "events",
        cal.id,
        cal.sync_generation,
    ):
        raise gone()
    return sorted((r for r in cal.events.values() if r.seq > known.seq), key=lambda r: r.seq)


def events_list(state: EmulatorState) -> Handler:
    """The events.list handler bound to `state`."""

    async def handle(request: web.Request) -> web.Response:
        access = authenticate(state, request, "calendar.events.list")
        cal = resolve_calendar(state, access, request.match_info["calendarId"], write=False)
        size = page_size(request, 250, 2500)
        more = resumed(state, request, "calendar#events")
        if more is not None:
            return more
        sync = request.query.get("syncToken")
        if sync is not None:
            records = _changed(state, request, cal, sync)
        else:
            records = [r for r in cal.events.values() if _visible(r, request)]
        if request.query.get("orderBy") == "startTime" and request.query.get("singleEvents") != "true":
            raise Denied(errors.bad_param("orderBy", "The requested ordering is not available."))
        token = state.pages.new_sync_token(SyncMark("events", cal.id, cal.seq, cal.sync_generation))
        extra: dict[str, Any] = {
            "summary": cal.summary,
            "updated": rfc3339(now_ms()),
            "timeZone": cal.time_zone,
            "accessRole": state.role_on(access.grant.email, cal.id),
            "defaultReminders": [],
        }
        snap = Snapshot([_listed(r) for r in records], 0, size, token, extra)
        return web.json_response(state.pages.page(snap, "calendar#events"))

    return handle
