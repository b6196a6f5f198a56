"""auth's composition root: shared runtime, the settings page and OAuth routes, the internal API,
the pending-revocation loop, and the refresh/security-event parts installed by ``background``.

``overrides`` (tests): ``{"clock": Clock}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from services.auth import background, http_handlers, revocations
from services.auth.appkeys import CIPHER, CLOCK, CONFIG, GOOGLE, REVOKE_WAKE
from services.auth.config import AuthConfig
from services.auth.crypto import TokenCipher
from services.auth.google_oauth import GoogleOAuth
from shared.clock import SystemClock
from shared.runtime import HTTP, background_context, base_app


def create_app(config: AuthConfig, *, overrides: dict[str, Any] | None = None) -> web.Application:
    overrides = overrides or {}
    app = base_app(config.common, migrations=Path(__file__).parent / "migrations")
    app[CONFIG] = config
    app[CIPHER] = TokenCipher(config.token_keys)
    app[CLOCK] = overrides.get("clock") or SystemClock()
    app[REVOKE_WAKE] = asyncio.Event()
    app.cleanup_ctx.append(_google_client)
    http_handlers.add_routes(app)
    app.cleanup_ctx.append(background_context(revocations.tasks))
    background.install(app)
    return app


async def _google_client(app: web.Application) -> AsyncIterator[None]:
    app[GOOGLE] = GoogleOAuth(app[HTTP], app[CONFIG].google)
    yield
