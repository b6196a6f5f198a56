"""The user followed the signed stop link (or their mail client's one-click unsubscribe): no more
reminders for that episode. Called by the stop page with an already verified episode id.
"""

from __future__ import annotations

import uuid

import asyncpg
import structlog

from services.notifier.adapters import repository
from shared.clock import Clock

log = structlog.get_logger(__name__)


async def stop_reminders(pool: asyncpg.Pool, episode_id: uuid.UUID, *, clock: Clock) -> bool:
    """No more reminders for this episode; False when the episode is unknown."""
    async with pool.acquire() as conn, conn.transaction():
        found = await repository.stop_reminders(conn, episode_id, clock.now())
    log.info("reminders_stopped", episode_id=str(episode_id), found=found)
    return found
