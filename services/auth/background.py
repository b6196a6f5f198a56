"""Installs auth's refresh side on the app: the refresh scheduler, the token RPC and user-deletion
consumers, and the RISC receiver ``POST /risc`` (the breaker API is in ``api_handlers``)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from services.auth import consumers, jobs, security_events
from services.auth.appkeys import CIPHER, CLOCK, CONFIG, GOOGLE
from services.auth.google_oauth import GoogleOAuth
from services.auth.refresh import Refresher
from services.auth.refresh_metrics import RefreshMetrics
from services.auth.risc import InvalidSet, RiscUnavailable, RiscVerifier
from shared import rpc
from shared.runtime import BROKER, HTTP, POOL, RELAY
from shared.web import REGISTRY

log = structlog.get_logger(__name__)

REFRESHER = web.AppKey("refresher", Refresher)
RISC = web.AppKey("risc_verifier", RiscVerifier)
METRICS = web.AppKey("refresh_metrics", RefreshMetrics)
MAX_SET_BYTES = 64 * 1024


def install(app: web.Application) -> None:
    """Add the background cleanup contexts and the /risc route to ``app``."""
    app[METRICS] = RefreshMetrics(app[REGISTRY])
    app.cleanup_ctx.append(_refresh_context)
    app.router.add_post("/risc", receive_security_event)


async def _refresh_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    s = config.refresh
    relay = app[RELAY]
    r = Refresher(
        pool=app[POOL],
        google=GoogleOAuth(app[HTTP], config.google, timeout=s.http_timeout)
        if s.http_timeout
        else app[GOOGLE],
        cipher=app[CIPHER],
        clock=app[CLOCK],
        settings=s,
        metrics=app[METRICS],
        wake=relay.wake,
    )
    app[REFRESHER] = r
    app[RISC] = RiscVerifier(
        app[HTTP],
        config.google.risc_config_url,
        (config.google.client_id,),
        refetch_interval=config.risc_refetch_interval,
    )
    broker = app[BROKER]
    await rpc.serve(broker, "auth.token_requests", functools.partial(consumers.answer_token_request, r))
    await broker.consume("auth.user_events", functools.partial(consumers.on_user_event, r.clock), pool=r.pool)
    task = asyncio.create_task(jobs.refresh_scheduler(r), name="refresh-scheduler")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def receive_security_event(request: web.Request) -> web.Response:
    """Google's RISC push: 202 when accepted (duplicates included), 400 when the token is not valid."""
    body = await request.content.read(MAX_SET_BYTES + 1)
    if len(body) > MAX_SET_BYTES:
        return web.json_response({"err": "invalid_request", "description": "too large"}, status=400)
    try:
        claims = await request.app[RISC].verify(body.decode("ascii", errors="replace").strip())
    except InvalidSet as exc:
        log.warning("security_event_rejected", error=str(exc))
        return web.json_response({"err": "invalid_request", "description": str(exc)}, status=400)
    except RiscUnavailable as exc:
        log.error("security_event_keys_unavailable", error=str(exc))
        return web.json_response({"err": "temporarily_unavailable"}, status=503)
    await security_events.handle(request.app[REFRESHER], claims)
    return web.Response(status=202)
