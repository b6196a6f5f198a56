"""A problem is resolved (reconnect, deleted connection, another calendar chosen): end the subject's
episode, cancel its pending emails and, after a reconnect, record the "connected again" email.
"""

from __future__ import annotations

import asyncpg
import structlog

from services.notifier.adapters import job_queue, repository
from services.notifier.domain.episodes import Ending
from shared.clock import Clock

log = structlog.get_logger(__name__)


async def end_episode(conn: asyncpg.Connection, ending: Ending, *, clock: Clock, confirm: bool) -> None:
    """End the subject's episode (cancelling its pending emails); after a reconnect, confirm it."""
    await repository.lock_subject(conn, ending.subject, ending.user_id)
    await repository.mark_settled(conn, ending.subject, ending.settled_at)
    if ending.subject.startswith("grant:"):
        await job_queue.cancel_jobs(conn, user_id=ending.user_id, kind="expiring", reason=ending.cause)
    episode = await repository.open_episode_of(conn, ending.subject)
    if episode is None:
        return
    now = clock.now()
    ended = await repository.end_episode(conn, episode["id"], ending.cause, now)
    log.info("episode_ended", episode_id=str(ended["id"]), subject=ending.subject, cause=ending.cause)
    if confirm and ending.confirm and ended["alert_sent_at"] is not None:
        await job_queue.add_job(
            conn,
            dedupe_key=f"episode:{ended['id']}:reconnected",
            kind="reconnected",
            user_id=ending.user_id,
            episode_id=ended["id"],
            reason=ended["reason"],
            now=now,
            data={"google_email": ending.google_email, "subject": ending.subject},
        )
