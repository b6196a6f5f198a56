"""The Cross-Account Protection part of the internal API (service token checked by shared.web), for
``calsync risc register`` and ``calsync risc check`` (docs/operations.md): where Google must push
security events and which ones (``GET /api/v1/risc``), and whether the verification event the CLI
asked Google for has arrived at ``/risc`` (``GET /api/v1/risc/verifications/{state}``)."""

from __future__ import annotations

from aiohttp import web

from services.auth.adapters import refresh_repository
from services.auth.domain.security_event_types import EVENTS_REQUESTED
from services.auth.keys import CONFIG, REFRESH

MAX_STATE = 200


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/risc", stream_settings)
    app.router.add_get("/api/v1/risc/verifications/{state}", verification)


async def stream_settings(request: web.Request) -> web.Response:
    """-> ``{"receiver_url", "events_requested"}``: what the stream registered with Google must say."""
    receiver = request.app[CONFIG].common.public_url("/risc")
    return web.json_response({"receiver_url": receiver, "events_requested": list(EVENTS_REQUESTED)})


async def verification(request: web.Request) -> web.Response:
    """-> ``{"state", "received_at"}`` once a verification event with that ``state`` arrived, else 404."""
    state = request.match_info["state"]
    if len(state) > MAX_STATE or not state.isprintable():
        raise web.HTTPBadRequest(
            text='{"error": "state is too long or not printable"}', content_type="application/json"
        )
    async with request.app[REFRESH].pool.acquire() as conn:
        received_at = await refresh_repository.verification_received_at(conn, state)
    if received_at is None:
        return web.json_response({"error": "no verification event with this state has arrived"}, status=404)
    return web.json_response({"state": state, "received_at": received_at.isoformat()})
