"""An operator sends a user's alert again (the operator CLI's ``calsync resend-alert``): the user
says the email never came, or deleted it. The open episode gets one more alert job, due now; the
delivery job (``send_due``) sends it with a freshly minted reconnect link, as the first one."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import structlog

from services.notifier.adapters import job_queue, repository
from shared.clock import Clock
from shared.db import transaction

log = structlog.get_logger(__name__)


async def resend(pool: asyncpg.Pool, clock: Clock, user_id: str) -> dict[str, Any] | None:
    """Queue the alert of the user's open episode again; None when no problem is open."""
    async with transaction(pool) as conn:
        episode = await repository.open_episode_of_user(conn, user_id)
        if episode is None:
            return None
        await job_queue.add_job(
            conn,
            dedupe_key=f"episode:{episode['id']}:alert:resend:{uuid.uuid4().hex}",
            kind="alert",
            user_id=user_id,
            episode_id=episode["id"],
            reason=episode["reason"],
            now=clock.now(),
        )
    log.info("alert_resend_queued", user_id=user_id, episode_id=str(episode["id"]), reason=episode["reason"])
    return {
        "user_id": user_id,
        "episode_id": str(episode["id"]),
        "reason": episode["reason"],
        "subject": episode["subject"],
    }
