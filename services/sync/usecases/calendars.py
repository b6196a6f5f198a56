"""Resolve a connected user's destination calendar: Google's ``primary`` alias becomes the concrete
calendar id (google.md §7), stored once; the user's waiting appointments then become due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from services.sync.adapters import repository, user_state
from services.sync.adapters.auth_tokens import AuthTokens
from services.sync.adapters.google_calendar import EventWriter
from shared.clock import Clock
from shared.google.calendar import GoogleApiError, GoogleTransportError, classify

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ResolveDeps:
    pool: asyncpg.Pool
    tokens: AuthTokens
    google: EventWriter
    clock: Clock
    retry_in: timedelta


async def resolve_due(deps: ResolveDeps) -> int:
    """Resolve every user whose calendar is due for resolution; returns how many got one."""
    now = deps.clock.now()
    resolved = 0
    for user_id in await user_state.claim_unresolved(deps.pool, now, now + deps.retry_in):
        resolved += await _resolve(deps, user_id)
    return resolved


async def _resolve(deps: ResolveDeps, user_id: str) -> int:
    calendar_id = None
    for force_refresh in (False, True):
        answer = await deps.tokens.token(user_id, force_refresh=force_refresh)
        if answer.access_token is None:
            log.info("calendar_not_resolved", user_id=user_id, token=answer.status)
            return 0
        try:
            entry = await deps.google.resolve(answer.access_token, "primary")
        except (GoogleApiError, GoogleTransportError) as exc:
            if classify(exc) == "auth" and not force_refresh:
                deps.tokens.forget(user_id)
                continue
            log.warning("calendar_not_resolved", user_id=user_id, error=str(exc))
            return 0
        calendar_id = str(entry["id"])
        break
    if calendar_id is None:
        return 0
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await user_state.set_calendar(conn, user_id, calendar_id):
            return 0
        await repository.make_due(conn, user_id, deps.clock.now())
    log.info("calendar_resolved", user_id=user_id, calendar_id=calendar_id)
    return 1
