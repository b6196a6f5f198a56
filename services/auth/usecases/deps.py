"""The dependency bundles the use cases take, built once in app.py (no locator, no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from services.auth.adapters.crypto import TokenCipher
from services.auth.adapters.google_oauth import GoogleOAuth
from services.auth.adapters.metrics import RefreshMetrics
from services.auth.config import AuthConfig
from services.auth.domain.refresh_rules import RefreshSettings
from shared.clock import Clock
from shared.outbox import Outbox


@dataclass(frozen=True)
class RefreshDeps:
    """What refreshing a grant needs: refresh, token requests, security events, expiry notices."""

    pool: asyncpg.Pool
    google: GoogleOAuth  # with the refresh timeout: the grant's row lock is held across the call
    cipher: TokenCipher
    clock: Clock
    settings: RefreshSettings
    metrics: RefreshMetrics
    outbox: Outbox
    jitter: Callable[[], float]  # uniform in [0, 1): spreads due times and backoffs


@dataclass(frozen=True)
class ConnectionDeps:
    """What the settings page, the OAuth round trip and the internal API need."""

    pool: asyncpg.Pool
    config: AuthConfig
    cipher: TokenCipher
    google: GoogleOAuth
    clock: Clock
    outbox: Outbox
    jitter: Callable[[], float]  # uniform in [0, 1): spreads the first refresh of new grants
