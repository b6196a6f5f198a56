"""HTTP entry points of auth: the internal API for the platform and notifier (service token), the
settings page behind signed links, and the OAuth round trip with Google."""

from __future__ import annotations

from aiohttp import web

from services.auth import api_handlers


def add_routes(app: web.Application) -> None:
    api_handlers.add_routes(app)
