"""Time-limited access ends soon (``auth.grant.expiring``): record one heads-up email per grant and
end date, in the message's transaction, unless the grant is already in a problem episode.
"""

from __future__ import annotations

import asyncpg
import structlog

from services.notifier.adapters import job_queue, repository
from services.notifier.domain.episodes import grant_subject
from shared import messages as m
from shared.clock import Clock

log = structlog.get_logger(__name__)


async def announce_expiry(conn: asyncpg.Connection, event: m.GrantExpiring, *, clock: Clock) -> None:
    """One heads-up per grant and end date, unless the grant is already in a problem episode."""
    subject = grant_subject(event.grant_id)
    if await repository.is_forgotten(conn, event.user_id) or await repository.open_episode_of(conn, subject):
        return
    await job_queue.add_job(
        conn,
        dedupe_key=f"expiring:{event.grant_id}:{event.expires_at.isoformat()}",
        kind="expiring",
        user_id=event.user_id,
        now=clock.now(),
        data={
            "expires_at": event.expires_at.isoformat(),
            "google_email": event.google_email,
            "subject": subject,
        },
    )
    log.info("expiry_announced", grant_id=event.grant_id)
