"""sync's HTTP API for the platform (service token required, see shared.web): an appointment's
sync state and a user's sync health."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from services.sync.usecases import sync_state
from shared.web import bad_request

MAX_ID = 200


def _id(request: web.Request, name: str) -> str:
    """The path id, or 400 naming the problem (control characters are refused by shared.web)."""
    value = request.match_info[name]
    if not value or len(value) > MAX_ID:
        raise bad_request("invalid_id", f"{name} must be 1 to {MAX_ID} characters")
    return value


def routes(pool_of: web.AppKey[asyncpg.Pool]) -> list[web.RouteDef]:
    async def appointment_sync(request: web.Request) -> web.Response:
        appointment_id = _id(request, "appointment_id")
        state = await sync_state.appointment_state(request.app[pool_of], appointment_id)
        if state is None:
            return web.json_response({"error": "unknown appointment"}, status=404)
        return web.json_response(state)

    async def user_sync_health(request: web.Request) -> web.Response:
        user_id = _id(request, "user_id")
        return web.json_response(await sync_state.user_health(request.app[pool_of], user_id))

    return [
        web.get("/api/v1/appointments/{appointment_id}/sync", appointment_sync),
        web.get("/api/v1/users/{user_id}/sync-health", user_sync_health),
    ]
