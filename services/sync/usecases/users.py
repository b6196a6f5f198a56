"""A platform user deleted: nothing more is written for them, and everything sync keeps about them
is dropped once the retention period (``PENDING_RETENTION_DAYS``) has passed."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import structlog

from services.sync.adapters import repository, user_state
from shared import messages as m
from shared.clock import Clock

log = structlog.get_logger(__name__)


async def user_deleted(conn: asyncpg.Connection, event: m.UserDeleted) -> None:
    await user_state.set_grant_state(conn, event.user_id, "user_deleted", None, event.occurred_at)
    log.info("user_writes_stopped", user_id=event.user_id)


async def purge(pool: asyncpg.Pool, clock: Clock, retention: timedelta) -> int:
    """Drop abandoned pending work; returns how many appointments were dropped."""
    dropped = await repository.purge_abandoned(pool, clock.now(), retention)
    if dropped:
        log.info("abandoned_appointments_dropped", count=dropped, retention_days=retention.days)
    return dropped
