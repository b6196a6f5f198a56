"""The reminder cadence: once an alert or reminder went out, note it on its episode and schedule the
next reminder (due on the cadence from the alert). The delivery job then sends it when it is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.notifier.adapters import job_queue, repository
from services.notifier.domain.emails import EPISODE_KINDS
from services.notifier.domain.episodes import reminder_due


async def note_email_went_out(
    conn: asyncpg.Connection,
    job: Mapping[str, Any],
    episode: Mapping[str, Any] | None,
    now: datetime,
    *,
    offsets: tuple[timedelta, ...],
) -> None:
    """Note the alert or reminder on its episode and schedule the next reminder, if any is due."""
    if job["kind"] not in EPISODE_KINDS or episode is None:
        return
    sequence = job["sequence"]
    await repository.record_episode_email(conn, episode["id"], sequence, now)
    alert_sent_at = now if sequence == 0 else episode["alert_sent_at"]
    due = reminder_due(alert_sent_at, sequence, offsets)
    if due is None or episode["ended_at"] is not None or episode["reminders_stopped_at"] is not None:
        return
    await job_queue.add_job(
        conn,
        dedupe_key=f"episode:{episode['id']}:reminder:{sequence + 1}",
        kind="reminder",
        user_id=job["user_id"],
        episode_id=episode["id"],
        reason=job["reason"],
        sequence=sequence + 1,
        due_at=due,
        now=now,
    )
