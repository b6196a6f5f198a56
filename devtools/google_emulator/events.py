"""Calendar v3 event endpoints of the emulator: insert, get, patch, update, delete (and list,
from `listing`) with client ids, etags and roles (docs/google.md §7-8)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from . import errors, event_rules
from .access import Denied, authenticate, json_body, resolve_calendar
from .listing import events_list
from .records import CalendarData, EventRecord
from .state import EmulatorState

PREFIX = "/calendar/v3/calendars/{calendarId}/events"


def _record(cal: CalendarData, request: web.Request) -> EventRecord:
    record = cal.events.get(request.match_info["eventId"])
    if record is None:
        raise Denied(errors.not_found())
    return record


def _check_if_match(request: web.Request, record: EventRecord) -> None:
    wanted = request.headers.get("If-Match")
    if wanted is not None and wanted not in ("*", record.data["etag"]):
        raise Denied(
            errors.api_error(
                412, "conditionNotMet", "Precondition Failed", location="If-Match", location_type="header"
            )
        )


def _check_times(body: dict[str, Any]) -> None:
    if "start" not in body:
        raise Denied(errors.api_error(400, "required", "Missing start time."))
    if "end" not in body:
        raise Denied(errors.api_error(400, "required", "Missing end time."))


def routes(state: EmulatorState) -> list[web.RouteDef]:
    """events.list, insert, get, patch, update and delete."""

    def open_calendar(request: web.Request, method: str, *, write: bool) -> CalendarData:
        access = authenticate(state, request, "calendar.events." + method)
        return resolve_calendar(state, access, request.match_info["calendarId"], write=write)

    async def insert(request: web.Request) -> web.Response:
        cal = open_calendar(request, "insert", write=True)
        body = await json_body(request, "calendar.events.insert")
        event_id = body.get("id")
        if event_id is not None and not (isinstance(event_id, str) and event_rules.EVENT_ID.match(event_id)):
            raise Denied(errors.api_error(400, "invalid", "Invalid resource id value."))
        if event_id in cal.events:  # a deleted (cancelled) id stays taken
            raise Denied(errors.api_error(409, "duplicate", "The requested identifier already exists."))
        _check_times(body)
        return web.json_response(state.save_event(cal, event_rules.new_event(cal, body, cal.id)))

    async def get(request: web.Request) -> web.Response:
        record = _record(open_calendar(request, "get", write=False), request)
        if request.headers.get("If-None-Match") == record.data["etag"]:
            return web.Response(status=304)
        return web.json_response(copy.deepcopy(record.data))

    async def modify(request: web.Request, method: str) -> web.Response:
        cal = open_calendar(request, method, write=True)
        record = _record(cal, request)
        body = await json_body(request, "calendar.events." + method)
        _check_if_match(request, record)
        if record.data.get("status") == "cancelled" and body.get("status") != "cancelled":
            raise Denied(errors.api_error(403, "forbidden", "Forbidden"))
        if method == "update":
            _check_times(body)
            return web.json_response(state.save_event(cal, event_rules.replaced(record, body)))
        return web.json_response(state.save_event(cal, event_rules.patched(record, body)))

    async def patch(request: web.Request) -> web.Response:
        return await modify(request, "patch")

    async def update(request: web.Request) -> web.Response:
        return await modify(request, "update")

    async def delete(request: web.Request) -> web.Response:
        cal = open_calendar(request, "delete", write=True)
        record = _record(cal, request)
        if record.data.get("status") == "cancelled":
            raise Denied(errors.api_error(410, "deleted", "Resource has been deleted"))
        _check_if_match(request, record)
        record.data["status"] = "cancelled"
        state.save_event(cal, record.data)
        return web.Response(status=204)

    return [
        web.get(PREFIX, events_list(state)),
        web.post(PREFIX, insert),
        web.get(PREFIX + "/{eventId}", get),
        web.patch(PREFIX + "/{eventId}", patch),
        web.put(PREFIX + "/{eventId}", update),
        web.delete(PREFIX + "/{eventId}", delete),
    ]
