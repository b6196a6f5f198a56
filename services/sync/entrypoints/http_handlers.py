"""sync's HTTP API for the platform (service token required, see shared.web): an appointment's
sync state, a user's sync health, the calendars the user may choose, the choice itself, the
connection test's calendar and channel steps (usecases/connection_test), and an operator's forced
inbound sync."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.sync.usecases import calendar_list, calendars, connection_test, resync, sync_state
from shared.web import bad_request, read_json

MAX_CALENDAR_ID = 1024
REFUSED_STATUS = {
    "not_connected": 409,
    "not_writable": 422,
    "unknown_calendar": 404,
    "google_unavailable": 503,
    "needs_consent": 409,
    "unknown_user": 404,
    "no_calendar": 409,
}

MAX_ID = 200


def _id(request: web.Request, name: str) -> str:
    """The path id, or 400 naming the problem (control characters are refused by shared.web)."""
    value = request.match_info[name]
    if not value or len(value) > MAX_ID:
        raise bad_request("invalid_id", f"{name} must be 1 to {MAX_ID} characters")
    return value


def routes(
    pool_of: web.AppKey[asyncpg.Pool],
    choice_of: web.AppKey[calendars.ChoiceDeps],
    probe_of: web.AppKey[connection_test.ProbeDeps],
) -> list[web.RouteDef]:
    async def appointment_sync(request: web.Request) -> web.Response:
        appointment_id = _id(request, "appointment_id")
        state = await sync_state.appointment_state(request.app[pool_of], appointment_id)
        if state is None:
            return web.json_response({"error": "unknown appointment"}, status=404)
        return web.json_response(state)

    async def user_sync_health(request: web.Request) -> web.Response:
        user_id = _id(request, "user_id")
        return web.json_response(await sync_state.user_health(request.app[pool_of], user_id))

    async def choose_calendar(request: web.Request) -> web.Response:
        user_id = _id(request, "user_id")
        body = await read_json(request, max_bytes=4096, max_depth=2)
        calendar_id = body.get("calendar_id") if isinstance(body, dict) else None
        if not isinstance(calendar_id, str) or not 1 <= len(calendar_id) <= MAX_CALENDAR_ID:
            raise bad_request(
                "invalid_calendar_id", f"calendar_id must be a string of 1 to {MAX_CALENDAR_ID} characters"
            )
        try:
            chosen = await calendars.choose(request.app[choice_of], user_id, calendar_id)
        except calendars.ChoiceRefused as exc:
            return web.json_response(
                {"error": exc.code, "detail": exc.detail}, status=REFUSED_STATUS[exc.code]
            )
        return web.json_response({"user_id": user_id, "calendar_id": chosen})

    async def list_calendars(request: web.Request) -> web.Response:
        user_id = _id(request, "user_id")
        try:
            listed = await calendar_list.writable(request.app[choice_of], user_id)
        except calendar_list.ListRefused as exc:
            return web.json_response(
                {"error": exc.code, "detail": exc.detail}, status=REFUSED_STATUS[exc.code]
            )
        return web.json_response({"user_id": user_id, **listed})

    async def request_resync(request: web.Request) -> web.Response:
        user_id, deps = _id(request, "user_id"), request.app[choice_of]
        try:
            calendar_id = await resync.request(deps.pool, deps.clock, user_id)
        except resync.ResyncRefused as exc:
            return web.json_response(
                {"error": exc.code, "detail": exc.detail}, status=REFUSED_STATUS[exc.code]
            )
        return web.json_response({"user_id": user_id, "calendar_id": calendar_id}, status=202)

    async def test_connection(request: web.Request) -> web.Response:
        user_id = _id(request, "user_id")
        result = await connection_test.run(request.app[probe_of], user_id)
        return web.json_response({"user_id": user_id, **result})

    return [
        web.get("/api/v1/users/{user_id}/calendars", list_calendars),
        web.post("/api/v1/users/{user_id}/resync", request_resync),
        web.post("/api/v1/users/{user_id}/connection-test", test_connection),
        web.get("/api/v1/appointments/{appointment_id}/sync", appointment_sync),
        web.get("/api/v1/users/{user_id}/sync-health", user_sync_health),
        web.put("/api/v1/users/{user_id}/calendar", choose_calendar),
    ]
