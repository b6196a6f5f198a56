"""Calendar v3 event and calendarList-entry endpoints of the emulator: insert, get, patch,
update, delete with client ids, etags and roles (google.md §7-8)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .access import Denied, authenticate, handles_denied, json_body, resolve_calendar
from .events_store import EVENT_ID
from .state import CalendarData, EventRecord

if TYPE_CHECKING:
    from .emulator import GoogleEmulator

PREFIX = "/calendar/v3/"


class _EventHandlers:
    emu: GoogleEmulator

    def _open(self, request: web.Request, method: str, *, write: bool) -> CalendarData:
        access = authenticate(self.emu, request, "calendar.events." + method)
        return resolve_calendar(self.emu, access, request.match_info["calendarId"], write=write)

    @staticmethod
    def _record(cal: CalendarData, request: web.Request) -> EventRecord:
        record = cal.events.get(request.match_info["eventId"])
        if record is None:
            raise Denied(errors.not_found())
        return record

    @staticmethod
    def _check_if_match(request: web.Request, record: EventRecord) -> None:
        wanted = request.headers.get("If-Match")
        if wanted is not None and wanted not in ("*", record.data["etag"]):
            raise Denied(
                errors.api_error(
                    412,
                    "conditionNotMet",
                    "Precondition Failed",
                    location="If-Match",
                    location_type="header",
                )
            )

    @staticmethod
    def _check_times(body: dict[str, Any]) -> None:
        if "start" not in body:
            raise Denied(errors.api_error(400, "required", "Missing start time."))
        if "end" not in body:
            raise Denied(errors.api_error(400, "required", "Missing end time."))


class CalendarEndpoints(_EventHandlers):
    """Request handlers bound to one emulator."""

    def __init__(self, emu: GoogleEmulator) -> None:
        self.emu = emu

    def routes(self) -> list[web.RouteDef]:
        ev = PREFIX + "calendars/{calendarId}/events"
        wrap = handles_denied
        return [
            web.get(PREFIX + "users/me/calendarList", wrap(self.emu.calendar_list)),
            web.get(PREFIX + "users/me/calendarList/{calendarId}", wrap(self.list_get)),
            web.get(ev, wrap(self.emu.events_list)),
            web.post(ev, wrap(self.insert)),
            web.get(ev + "/{eventId}", wrap(self.get)),
            web.patch(ev + "/{eventId}", wrap(self.patch)),
            web.put(ev + "/{eventId}", wrap(self.update)),
            web.delete(ev + "/{eventId}", wrap(self.delete)),
        ]

    async def list_get(self, request: web.Request) -> web.Response:
        access = authenticate(self.emu, request, "calendar.calendarList.get")
        cal = resolve_calendar(self.emu, access, request.match_info["calendarId"], write=False)
        return web.json_response(self.emu.list_entry(access.grant.email, cal.id))

    async def insert(self, request: web.Request) -> web.Response:
        cal = self._open(request, "insert", write=True)
        body = await json_body(request)
        event_id = body.get("id")
        if event_id is not None and not (isinstance(event_id, str) and EVENT_ID.match(event_id)):
            raise Denied(errors.api_error(400, "invalid", "Invalid resource id value."))
        if event_id in cal.events:
            raise Denied(errors.api_error(409, "duplicate", "The requested identifier already exists."))
        self._check_times(body)
        return web.json_response(self.emu.create_event(cal, body, cal.id))

    async def get(self, request: web.Request) -> web.Response:
        cal = self._open(request, "get", write=False)
        record = self._record(cal, request)
        if request.headers.get("If-None-Match") == record.data["etag"]:
            return web.Response(status=304)
        return web.json_response(copy.deepcopy(record.data))

    async def _modify(self, request: web.Request, method: str) -> web.Response:
        cal = self._open(request, method, write=True)
        record = self._record(cal, request)
        body = await json_body(request)
        self._check_if_match(request, record)
        if record.data.get("status") == "cancelled" and body.get("status") != "cancelled":
            raise Denied(errors.api_error(403, "forbidden", "Forbidden"))
        if method == "update":
            self._check_times(body)
            return web.json_response(self.emu.replace_event(cal, record, body))
        return web.json_response(self.emu.patch_event(cal, record, body))

    async def patch(self, request: web.Request) -> web.Response:
        return await self._modify(request, "patch")

    async def update(self, request: web.Request) -> web.Response:
        return await self._modify(request, "update")

    async def delete(self, request: web.Request) -> web.Response:
        cal = self._open(request, "delete", write=True)
        record = self._record(cal, request)
        if record.data.get("status") == "cancelled":
            raise Denied(errors.api_error(410, "deleted", "Resource has been deleted"))
        self._check_if_match(request, record)
        self.emu.cancel_event(cal, record)
        return web.Response(status=204)
