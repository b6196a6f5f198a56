"""A problem is reported (grant disconnected or suspended, calendar unusable): open the subject's
episode and record its alert, in the message's transaction. Nothing is sent here: the delivery job
(``send_due``) sends. See ``domain.episodes`` for what an episode is.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import structlog

from services.notifier.adapters import job_queue, repository
from services.notifier.domain.episodes import Opening, is_stale
from shared.clock import Clock

log = structlog.get_logger(__name__)


async def open_episode(conn: asyncpg.Connection, opening: Opening, *, clock: Clock) -> uuid.UUID | None:
    """Open an episode and record its alert; a duplicate or stale report opens nothing."""
    if await repository.is_forgotten(conn, opening.user_id):
        log.info("problem_for_forgotten_user", user_id=opening.user_id)
        return None
    subject = await repository.lock_subject(conn, opening.subject, opening.user_id)
    if opening.hijacked:
        await repository.mark_hijacked(conn, opening.subject)
    if is_stale(opening.began_at, subject["settled_at"]):
        log.info("problem_report_stale", subject=opening.subject, reason=opening.reason)
        return None
    now = clock.now()
    episode_id = await repository.open_episode(conn, opening, now)
    if episode_id is None:
        log.info("episode_already_open", subject=opening.subject, reason=opening.reason)
        return None
    await _record_alert(conn, opening, episode_id, now)
    log.info("episode_opened", episode_id=str(episode_id), subject=opening.subject, reason=opening.reason)
    return episode_id


async def _record_alert(
    conn: asyncpg.Connection, opening: Opening, episode_id: uuid.UUID, now: datetime
) -> None:
    """The episode's one alert, due now; a pending heads-up about the same grant's expiry is dropped."""
    await job_queue.add_job(
        conn,
        dedupe_key=f"episode:{episode_id}:alert",
        kind="alert",
        user_id=opening.user_id,
        episode_id=episode_id,
        reason=opening.reason,
        now=now,
    )
    if opening.subject.startswith("grant:"):
        await job_queue.cancel_jobs(
            conn, user_id=opening.user_id, kind="expiring", reason="grant disconnected"
        )
