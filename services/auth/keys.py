"""Every typed key under which auth's composition root (app.py) stores what it built.

A module of its own so that entry points can read them without importing app.py, which imports them.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from services.auth.adapters.risc_keys import RiscVerifier
from services.auth.adapters.sync_api import SyncApi
from services.auth.config import AuthConfig
from services.auth.usecases.answer_token_request import GrantLocks
from services.auth.usecases.deps import ConnectionDeps, RefreshDeps
from shared.clock import Clock

CONFIG = web.AppKey("auth_config", AuthConfig)
CLOCK = web.AppKey("clock", Clock)
CONNECTION = web.AppKey("connection_deps", ConnectionDeps)  # pages, OAuth round trip, internal API
REFRESH = web.AppKey("refresh_deps", RefreshDeps)  # refresh, token requests, security events
GRANT_LOCKS = web.AppKey("grant_locks", GrantLocks)
RISC = web.AppKey("risc_verifier", RiscVerifier)
SYNC_API = web.AppKey("sync_api", SyncApi)  # the settings page's Calendar section
REVOKE_WAKE = web.AppKey("revoke_wake", asyncio.Event)  # set after a commit that queued a revocation
