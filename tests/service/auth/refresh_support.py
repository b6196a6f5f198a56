"""Building blocks for auth refresh tests: an AuthConfig with fast refresh settings, live grants created
in the emulator and stored through auth's repository, and a running auth app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import asyncpg

from services.auth.adapters import connection_repository, crypto
from services.auth.app import create_app
from services.auth.config import AuthConfig
from services.auth.domain.model import Connection
from services.auth.domain.refresh_rules import RefreshSettings
from shared.clock import ManualClock
from shared.config import CommonConfig, GoogleConfig
from tests.service.auth.flow import TEST_KEYS, auth_config
from tests.support.helpers import ServedUrl, serve

SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/calendar.events",
)
FAST = RefreshSettings(
    poll_interval=0.02, retry_base=30.0, retry_max=600.0, breaker_min_dead=5, breaker_share=0.2, concurrency=8
)


def refresh_config(common: CommonConfig, google: GoogleConfig, **refresh: Any) -> AuthConfig:
    """The test AuthConfig with ``FAST`` refresh settings, changed by ``refresh``."""
    return auth_config(common, google, refresh=replace(FAST, **refresh))


@asynccontextmanager
async def running(config: AuthConfig, clock: ManualClock) -> AsyncIterator[ServedUrl]:
    """An auth app serving on a real port, with its background jobs and consumers."""
    async with serve(create_app(config, overrides={"clock": clock})) as url:
        yield url


async def add_grant(
    db: asyncpg.Pool,
    emulator: Any,
    clock: ManualClock,
    *,
    email: str | None = None,
    expires_in: float = 3600,
    next_refresh_at: datetime | None = None,
    last_used: bool = True,
) -> dict[str, str]:
    """A Google account with a live grant in the emulator, stored as connected in auth's table."""
    email = email or f"u{uuid.uuid4().hex[:8]}@example.com"
    user = emulator.user(email) if emulator.has_user(email) else emulator.add_user(email)
    emu_grant = emulator.add_grant(email, SCOPES)
    refresh_token = emu_grant.refresh_token
    access = emulator.issue_access_token(emu_grant, list(SCOPES))
    cipher = crypto.TokenCipher(TEST_KEYS)
    grant_id, user_id = uuid.uuid4().hex, "user-" + uuid.uuid4().hex[:8]
    now = clock.now()
    expires_at = now + timedelta(seconds=expires_in)
    async with db.acquire() as conn:
        await conn.execute("SET search_path = auth")
        await connection_repository.save_connection(
            conn,
            Connection(
                grant_id=grant_id,
                user_id=user_id,
                google_sub=user.sub,
                google_email=email,
                scopes=SCOPES,
                refresh_token_enc=cipher.seal_field(grant_id, "refresh_token", refresh_token),
                access_token_enc=cipher.seal_field(grant_id, "access_token", access),
                access_expires_at=expires_at,
                refresh_token_expires_at=None,
                token_hash=crypto.token_hash(refresh_token),
                token_prefix_hash=crypto.token_prefix_hash(refresh_token),
                next_refresh_at=next_refresh_at or expires_at - timedelta(minutes=10),
            ),
            now,
        )
        if last_used:
            await conn.execute("UPDATE grants SET last_used_at = $2 WHERE grant_id = $1", grant_id, now)
        await conn.execute("RESET search_path")
    return {
        "grant_id": grant_id,
        "user_id": user_id,
        "email": email,
        "refresh_token": refresh_token,
        "access_token": access,
        "sub": user.sub,
    }


async def grant_row(db: asyncpg.Pool, grant_id: str) -> asyncpg.Record:
    async with db.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM auth.grants WHERE grant_id = $1", grant_id)
    assert row is not None
    return row


async def metrics_of(url: ServedUrl) -> dict[str, float]:
    """auth's own metrics from a running instance's internal /metrics, by sample name with labels."""
    async with aiohttp.ClientSession() as http, http.get(url.internal + "/metrics") as resp:
        text = await resp.text()
    values = {}
    for line in text.splitlines():
        if line.startswith("calsync_auth_"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values
