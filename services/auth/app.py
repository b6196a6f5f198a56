"""auth's one composition root: every dependency is built here and every background loop (refresh
scheduler, revocation retries, token RPC, user-event and sync-event consumers) is started here, in cleanup
contexts on top of the shared runtime (pool, broker, outbox relay, HTTP client).

``overrides`` (tests): ``{"clock": Clock}``.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from services.auth.adapters.crypto import TokenCipher
from services.auth.adapters.google_oauth import GoogleOAuth
from services.auth.adapters.metrics import RefreshMetrics
from services.auth.adapters.risc_keys import RiscVerifier
from services.auth.adapters.sync_api import SyncApi
from services.auth.config import AuthConfig
from services.auth.entrypoints import api_handlers, consumers, http_handlers, jobs, risc_api, risc_receiver
from services.auth.keys import CLOCK, CONFIG, CONNECTION, GRANT_LOCKS, REFRESH, REVOKE_WAKE, RISC, SYNC_API
from services.auth.usecases.answer_token_request import GrantLocks
from services.auth.usecases.deps import ConnectionDeps, RefreshDeps
from shared import messages as m
from shared import rpc
from shared.clock import SystemClock
from shared.landing import Link
from shared.outbox import Outbox
from shared.runtime import BROKER, HTTP, POOL, base_app
from shared.web import REGISTRY, add_landing_page

TOKEN_REQUESTS = "auth.token_requests"
USER_EVENTS = "auth.user_events"
SYNC_EVENTS = "auth.sync_events"


def create_app(config: AuthConfig, *, overrides: dict[str, Any] | None = None) -> web.Application:
    overrides = overrides or {}
    clock = overrides.get("clock") or SystemClock()
    outbox = Outbox(clock)  # the runtime's relay is attached to it and woken after each commit
    app = base_app(config.common, migrations=Path(__file__).parent / "migrations", outbox=outbox)
    app[CONFIG] = config
    app[CLOCK] = clock
    app[REVOKE_WAKE] = asyncio.Event()
    app[GRANT_LOCKS] = GrantLocks()
    metrics = RefreshMetrics(app[REGISTRY])
    app.cleanup_ctx.append(functools.partial(_dependencies, metrics=metrics, outbox=outbox))
    app.cleanup_ctx.append(_background)
    http_handlers.add_routes(app)
    api_handlers.add_routes(app)
    risc_receiver.add_routes(app)
    risc_api.add_routes(app)
    add_landing_page(
        app,
        title="calsync auth",
        description="Keeps each user's Google Calendar connection: the settings page where they connect,"
        " reconnect or delete it, the OAuth callback, Google's security events (/risc) and the service"
        " API the platform calls with its service token.",
        links=[
            Link(
                "Settings page", "/settings", "open it through a link from POST /api/v1/users/{user_id}/link"
            )
        ],
    )
    return app


async def _dependencies(
    app: web.Application, *, metrics: RefreshMetrics, outbox: Outbox
) -> AsyncIterator[None]:
    """Everything built on the pool and the HTTP client (both exist once the runtime has started)."""
    config, clock = app[CONFIG], app[CLOCK]
    cipher = TokenCipher(config.token_keys)
    jitter = random.Random().random
    app[CONNECTION] = ConnectionDeps(
        pool=app[POOL],
        config=config,
        cipher=cipher,
        google=GoogleOAuth(app[HTTP], config.google),
        clock=clock,
        outbox=outbox,
        jitter=jitter,
    )
    app[REFRESH] = RefreshDeps(
        pool=app[POOL],
        # its own timeout: the grant's row lock is held across a refresh
        google=GoogleOAuth(app[HTTP], config.google, timeout=config.refresh.http_timeout),
        cipher=cipher,
        clock=clock,
        settings=config.refresh,
        metrics=metrics,
        outbox=outbox,
        jitter=jitter,
    )
    app[RISC] = RiscVerifier(
        app[HTTP],
        config.google.risc_config_url,
        (config.google.client_id,),
        refetch_interval=config.risc_refetch_interval,
    )
    app[SYNC_API] = SyncApi(
        app[HTTP],
        base_url=config.sync.url,
        service_token=config.sync.service_token or config.common.service_token,
        timeout=config.sync.timeout,
        test_timeout=config.sync.test_timeout,
    )
    yield


async def _background(app: web.Application) -> AsyncIterator[None]:
    """The consumers and the loops, stopped in reverse on shutdown."""
    refresh, broker = app[REFRESH], app[BROKER]
    answer = functools.partial(consumers.on_token_request, refresh, app[GRANT_LOCKS])
    token_server = await rpc.serve(broker, TOKEN_REQUESTS, m.TokenRequested, answer)
    wake = app[REVOKE_WAKE].set
    user_routes = consumers.user_event_routes(
        refresh.outbox, refresh.clock, hold=app[CONFIG].revoke_hold, wake=wake
    )
    await broker.consume(USER_EVENTS, user_routes, pool=refresh.pool)
    await broker.consume(
        SYNC_EVENTS, consumers.sync_event_routes(refresh.clock, wake=wake), pool=refresh.pool
    )
    loops = [
        asyncio.create_task(jobs.refresh_scheduler(refresh), name="refresh-scheduler"),
        asyncio.create_task(
            jobs.revocation_retries(app[CONNECTION], app[CONFIG], app[REVOKE_WAKE]), name="auth-revocations"
        ),
    ]
    yield
    for loop in loops:
        loop.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
    await token_server.close()
