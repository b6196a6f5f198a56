"""events.list and calendarList.list of the emulator: snapshot paging with pageToken,
nextSyncToken on the last page only, incremental results with syncToken, forbidden parameters
and 410 after invalidation (google.md §7, §10)."""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .access import Denied, authenticate, resolve_calendar
from .state import ROLE_RANK, CalendarData, EventRecord, ListEntry, now_ms, rfc3339

if TYPE_CHECKING:
    from .emulator import GoogleEmulator

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


@dataclass
class _Snapshot:
    items: list[dict[str, Any]]
    offset: int
    page_size: int
    sync_token: str
    extra: dict[str, Any] = field(default_factory=dict)


def _gone() -> Denied:
    return Denied(
        errors.api_error(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
            domain="calendar",
            location="syncToken",
        )
    )


def _page_size(request: web.Request, default: int, cap: int) -> int:
    raw = request.query.get("maxResults")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise Denied(errors.bad_param("maxResults", "Invalid Value"))
    return min(int(raw), cap)


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


class ListingMixin:
    """Handlers for the two list methods, plus the sync/page token tables they use."""

    calendars: dict[str, CalendarData]
    calendar_lists: dict[str, dict[str, ListEntry]]
    list_seq: int
    _event_sync: dict[str, tuple[str, int, int]]
    _list_sync: dict[str, tuple[str, int, int]]
    _list_generation: int
    _pages: dict[str, _Snapshot]

    def _init_listing(self) -> None:
        self._event_sync, self._list_sync, self._pages = {}, {}, {}
        self._list_generation = 0

    def _invalidate_list_tokens(self) -> None:
        self._list_generation += 1

    def _emu(self) -> GoogleEmulator:
        return self  # type: ignore[return-value]

    def _new_token(self, prefix: str) -> str:
        return prefix + secrets.token_urlsafe(24)

    def _page(self, snap: _Snapshot, kind: str) -> dict[str, Any]:
        items = snap.items[snap.offset : snap.offset + snap.page_size]
        body: dict[str, Any] = {"kind": kind, "etag": f'"p{now_ms()}"', **snap.extra}
        body["items"] = items
        if snap.offset + snap.page_size < len(snap.items):
            token = self._new_token("E")
            self._pages[token] = _Snapshot(
                snap.items, snap.offset + snap.page_size, snap.page_size, snap.sync_token, snap.extra
            )
            body["nextPageToken"] = token
        else:
            body["nextSyncToken"] = snap.sync_token
        return body

    def _continue(self, request: web.Request, kind: str) -> web.Response | None:
        token = request.query.get("pageToken")
        if token is None:
            return None
        snap = self._pages.get(token)
        if snap is None:
            raise Denied(errors.bad_param("pageToken", "Invalid page token value."))
        return web.json_response(self._page(snap, kind))

    async def events_list(self, request: web.Request) -> web.Response:
        access = authenticate(self._emu(), request, "calendar.events.list")
        cal = resolve_calendar(self._emu(), access, request.match_info["calendarId"], write=False)
        size = _page_size(request, 250, 2500)
        resumed = self._continue(request, "calendar#events")
        if resumed is not None:
            return resumed
        sync = request.query.get("syncToken")
        if sync is not None:
            records = self._changed_events(request, cal, sync)
        else:
            records = [r for r in cal.events.values() if _visible(r, request)]
        if request.query.get("orderBy") == "startTime" and request.query.get("singleEvents") != "true":
            raise Denied(errors.bad_param("orderBy", "The requested ordering is not available."))
        token = self._new_token("C")
        self._event_sync[token] = (cal.id, cal.seq, cal.sync_generation)
        extra: dict[str, Any] = {
            "summary": cal.summary,
            "updated": rfc3339(now_ms()),
            "timeZone": cal.time_zone,
            "accessRole": self._emu().role_on(access.grant.email, cal.id),
            "defaultReminders": [],
        }
        snap = _Snapshot([_listed(r) for r in records], 0, size, token, extra)
        return web.json_response(self._page(snap, "calendar#events"))

    def _changed_events(self, request: web.Request, cal: CalendarData, sync: str) -> list[EventRecord]:
        for name in FORBIDDEN_WITH_SYNC:
            if name in request.query:
                raise Denied(errors.bad_param(name, f"{name} is not allowed with syncToken."))
        if request.query.get("showDeleted") == "false":
            raise Denied(errors.bad_param("showDeleted", "showDeleted=false with syncToken."))
        known = self._event_sync.get(sync)
        if known is None or known[0] != cal.id or known[2] != cal.sync_generation:
            raise _gone()
        records = [r for r in cal.events.values() if r.seq > known[1]]
        return sorted(records, key=lambda r: r.seq)

    def list_entry(self, email: str, calendar_id: str) -> dict[str, Any]:
        entry = self.calendar_lists[email][calendar_id]
        cal = self.calendars[calendar_id]
        body: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{entry.seq}"',
            "id": cal.id,
            "summary": cal.summary,
            "timeZone": cal.time_zone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": entry.access_role,
            "defaultReminders": [],
        }
        if calendar_id == email:
            body["primary"] = True
        if entry.deleted:
            body["deleted"] = True
        if entry.hidden:
            body["hidden"] = True
        return body

    async def calendar_list(self, request: web.Request) -> web.Response:
        access = authenticate(self._emu(), request, "calendar.calendarList.list")
        email = access.grant.email
        size = _page_size(request, 100, 250)
        resumed = self._continue(request, "calendar#calendarList")
        if resumed is not None:
            return resumed
        entries = list(self.calendar_lists.get(email, {}).values())
        sync = request.query.get("syncToken")
        if sync is not None:
            if "minAccessRole" in request.query:
                raise Denied(errors.bad_param("minAccessRole", "minAccessRole with syncToken."))
            known = self._list_sync.get(sync)
            if known is None or known[0] != email or known[2] != self._list_generation:
                raise _gone()
            entries = [e for e in entries if e.seq > known[1]]
        else:
            floor = ROLE_RANK.get(request.query.get("minAccessRole", "freeBusyReader"))
            if floor is None:
                raise Denied(errors.bad_param("minAccessRole", "Invalid Value"))
            show_deleted = request.query.get("showDeleted") == "true"
            entries = [
                e
                for e in entries
                if ROLE_RANK[e.access_role] >= floor
                and (show_deleted or not e.deleted)
                and (not e.hidden or request.query.get("showHidden") == "true")
            ]
        token = self._new_token("C")
        self._list_sync[token] = (email, self.list_seq, self._list_generation)
        items = [self.list_entry(email, e.calendar_id) for e in entries]
        snap = _Snapshot(items, 0, size, token)
        return web.json_response(self._page(snap, "calendar#calendarList"))
