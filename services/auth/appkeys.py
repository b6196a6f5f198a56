"""Typed keys under which auth's composition root (app.py) stores its dependencies.

A module of its own so that every part (handlers, background jobs) can import them without
importing app.py, which imports those parts.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from services.auth.config import AuthConfig
from services.auth.crypto import TokenCipher
from services.auth.google_oauth import GoogleOAuth
from shared.clock import Clock

CONFIG = web.AppKey("auth_config", AuthConfig)
CIPHER = web.AppKey("token_cipher", TokenCipher)
CLOCK = web.AppKey("clock", Clock)
GOOGLE = web.AppKey("google_oauth", GoogleOAuth)
REVOKE_WAKE = web.AppKey("revoke_wake", asyncio.Event)  # set after a commit that queued a revocation
