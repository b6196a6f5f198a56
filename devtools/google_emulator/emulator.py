"""The Google emulator: one stateful aiohttp app serving Google's OAuth, RISC and Calendar v3
endpoints for tests (in process) and for `make run` (standalone, driven over `/_emulator/`)."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from aiohttp import web

from .accounts import AccountsMixin
from .admin import admin_routes
from .calendar import CalendarEndpoints
from .channels import ChannelsMixin
from .events_store import EventsMixin
from .faults import FaultsMixin
from .listing import ListingMixin
from .oauth import OAuthEndpoints
from .risc import RiscMixin
from .state import AccessToken, Grant, new_access_token


class GoogleEmulator(ChannelsMixin, ListingMixin, EventsMixin, AccountsMixin, FaultsMixin, RiscMixin):
    """Behaves like Google's OAuth server and Calendar API v3 (see google.md)."""

    def __init__(
        self,
        public_url: str | None = None,
        *,
        client_id: str = "calsync-test-client.apps.googleusercontent.com",
        client_secret: str = "calsync-test-secret",
        access_token_ttl: int = 3599,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.public_url = public_url.rstrip("/") if public_url else None
        self.base_url = self.public_url or ""
        self._http = None
        self._runner: web.AppRunner | None = None
        self._init_accounts()
        self._init_faults()
        self._init_risc()
        self._init_channels()
        self._init_listing()
        self.app = self._build_app()

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self.fault_middleware])
        app.add_routes(OAuthEndpoints(self).routes())
        app.add_routes(self.discovery_routes())
        app.add_routes(CalendarEndpoints(self).routes())
        app.add_routes(self.channel_routes())
        app.add_routes(admin_routes(self))
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _: web.Application) -> None:
        self._http = aiohttp.ClientSession()

    async def _on_cleanup(self, _: web.Application) -> None:
        await self._cancel_pushes()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = self.public_url or f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving, cancel pending pushes and close the outbound session."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def auth_url(self) -> str:
        return self.base_url + "/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def revoke_url(self) -> str:
        return self.base_url + "/revoke"

    @property
    def userinfo_url(self) -> str:
        return self.base_url + "/v1/userinfo"

    @property
    def risc_config_url(self) -> str:
        return self.base_url + "/.well-known/risc-configuration"

    @property
    def jwks_url(self) -> str:
        return self.base_url + "/oauth2/v3/certs"

    @property
    def calendar_base_url(self) -> str:
        return self.base_url + "/calendar/v3/"

    def issue_access_token(self, grant: Grant, scopes: list[str]) -> str:
        token = new_access_token()
        expires = time.time() + self.access_token_ttl
        self.access_tokens[token] = AccessToken(grant, list(scopes), expires)
        return token

    def grant_token(self, email: str, scopes: list[str]) -> str:
        """Shortcut for tests of Calendar calls: a live grant and an access token for it."""
        grant = Grant(email, self.client_id, list(scopes), None)
        self.grants.append(grant)
        return self.issue_access_token(grant, scopes)

    def events(self, calendar_id: str) -> list[dict[str, Any]]:
        """Stored events of a calendar, deleted ones included (status "cancelled")."""
        return [dict(r.data) for r in self.calendars[calendar_id].events.values()]
