"""``POST /risc``: Google's Cross-Account Protection push. The token is verified by
adapters/risc_keys.py and acted on by usecases/security_events.py."""

from __future__ import annotations

import math

import structlog
from aiohttp import web

from services.auth.adapters.risc_keys import InvalidSet, RiscUnavailable
from services.auth.keys import REFRESH, RISC
from services.auth.usecases import security_events

log = structlog.get_logger(__name__)

MAX_SET_BYTES = 64 * 1024


def add_routes(app: web.Application) -> None:
    app.router.add_post("/risc", receive_security_event)


async def receive_security_event(request: web.Request) -> web.Response:
    """Google's RISC push: 202 when accepted (duplicates included), 400 when the token is not valid,
    503 with Retry-After when it cannot be judged yet (keys unavailable, or an unknown kid while a
    refetch is not allowed yet)."""
    body = await request.content.read(MAX_SET_BYTES + 1)
    if len(body) > MAX_SET_BYTES:
        return web.json_response({"err": "invalid_request", "description": "too large"}, status=400)
    try:
        claims = await request.app[RISC].verify(body.decode("ascii", errors="replace").strip())
    except InvalidSet as exc:
        log.warning("security_event_rejected", error=str(exc))
        return web.json_response({"err": "invalid_request", "description": str(exc)}, status=400)
    except RiscUnavailable as exc:
        log.warning("security_event_deferred", error=str(exc), retry_after=exc.retry_after)
        retry_after = str(max(1, math.ceil(exc.retry_after)))
        return web.json_response(
            {"err": "temporarily_unavailable"}, status=503, headers={"Retry-After": retry_after}
        )
    await security_events.handle(request.app[REFRESH], claims)
    return web.Response(status=202)
