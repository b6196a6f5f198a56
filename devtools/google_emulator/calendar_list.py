"""calendarList.list and calendarList.get of the emulated Calendar: per-user roles,
`minAccessRole`, `primary` on one entry only, paging and sync tokens (docs/google.md §7)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import errors
from .access import Denied, authenticate, resolve_calendar
from .listing import gone, page_size, resumed
from .paging import Snapshot, SyncMark
from .records import ROLE_RANK, ListEntry
from .state import EmulatorState

PREFIX = "/calendar/v3/users/me/calendarList"


def list_entry(state: EmulatorState, email: str, calendar_id: str) -> dict[str, Any]:
    """`email`'s calendarList entry for a calendar, as Google renders it."""
    entry = state.calendar_lists[email][calendar_id]
    cal = state.calendars[calendar_id]
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
    if entry.summary_override is not None:
        body["summaryOverride"] = entry.summary_override
    if calendar_id == email:
        body["primary"] = True
    if entry.deleted:
        body["deleted"] = True
    if entry.hidden:
        body["hidden"] = True
    return body


def _since(
    state: EmulatorState, request: web.Request, email: str, entries: list[ListEntry]
) -> list[ListEntry]:
    if "minAccessRole" in request.query:
        raise Denied(errors.bad_param("minAccessRole", "minAccessRole with syncToken."))
    known = state.pages.sync_mark(request.query["syncToken"])
    wanted = ("calendarList", email, state.list_generation)
    if known is None or (known.kind, known.owner, known.generation) != wanted:
        raise gone()
    return [e for e in entries if e.seq > known.seq]


def _filtered(request: web.Request, entries: list[ListEntry]) -> list[ListEntry]:
    floor = ROLE_RANK.get(request.query.get("minAccessRole", "freeBusyReader"))
    if floor is None:
        raise Denied(errors.bad_param("minAccessRole", "Invalid Value"))
    show_deleted = request.query.get("showDeleted") == "true"
    show_hidden = request.query.get("showHidden") == "true"
    return [
        e
        for e in entries
        if ROLE_RANK[e.access_role] >= floor
        and (show_deleted or not e.deleted)
        and (show_hidden or not e.hidden)
    ]


def routes(state: EmulatorState) -> list[web.RouteDef]:
    """calendarList.list and calendarList.get."""

    async def list_all(request: web.Request) -> web.Response:
        access = authenticate(state, request, "calendar.calendarList.list")
        email = access.grant.email
        size = page_size(request, 100, 250)
        more = resumed(state, request, "calendar#calendarList")
        if more is not None:
            return more
        entries = list(state.calendar_lists.get(email, {}).values())
        if "syncToken" in request.query:
            entries = _since(state, request, email, entries)
        else:
            entries = _filtered(request, entries)
        token = state.pages.new_sync_token(
            SyncMark("calendarList", email, state.list_seq, state.list_generation)
        )
        items = [list_entry(state, email, e.calendar_id) for e in entries]
        return web.json_response(state.pages.page(Snapshot(items, 0, size, token), "calendar#calendarList"))

    async def get_one(request: web.Request) -> web.Response:
        access = authenticate(state, request, "calendar.calendarList.get")
        cal = resolve_calendar(state, access, request.match_info["calendarId"], write=False)
        return web.json_response(list_entry(state, access.grant.email, cal.id))

    return [
        web.get(PREFIX, list_all),
        web.get(PREFIX + "/{calendarId}", get_one),
    ]
