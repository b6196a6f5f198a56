"""asyncpg SQL for the notifier schema: contacts, subjects, episodes, delivery jobs and their log.

Lock order, to stay free of deadlocks between consumers and the delivery worker: a subject row first,
then jobs, then episodes. The worker claims a job and then locks its episode; consumers that end or
stop an episode cancel its jobs before they touch the episode row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from services.notifier.domain import Opening
from shared import messages as m

# --------------------------------------------------------------------------- contacts


async def save_contact(conn: asyncpg.Connection, event: m.UserContactChanged) -> bool:
    """Store the newest contact details (older events lose); False for a forgotten user."""
    result = await conn.fetchval(
        "INSERT INTO contacts (user_id, email, name, locale, changed_at)"
        " SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM forgotten_users WHERE user_id = $1)"
        " ON CONFLICT (user_id) DO UPDATE SET email = $2, name = $3, locale = $4, changed_at = $5"
        " WHERE contacts.changed_at <= $5 RETURNING true",
        event.user_id,
        event.email,
        event.name,
        event.locale,
        event.occurred_at,
    )
    return bool(result)


async def contact(conn: asyncpg.Connection, user_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT email, name, locale FROM contacts WHERE user_id = $1", user_id)


async def is_forgotten(conn: asyncpg.Connection, user_id: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM forgotten_users WHERE user_id = $1", user_id))


async def forget_user(conn: asyncpg.Connection, user_id: str, at: datetime) -> None:
    """Delete everything about the user (jobs and their log first, see the lock order)."""
    await conn.execute("DELETE FROM jobs WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM episodes WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM subjects WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM contacts WHERE user_id = $1", user_id)
    await conn.execute(
        "INSERT INTO forgotten_users (user_id, deleted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user_id,
        at,
    )


# --------------------------------------------------------------------------- subjects and episodes


async def lock_subject(conn: asyncpg.Connection, subject: str, user_id: str) -> asyncpg.Record:
    """The subject's row, created if needed and locked for this transaction."""
    await conn.execute(
        "INSERT INTO subjects (subject, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", subject, user_id
    )
    row = await conn.fetchrow(
        "SELECT settled_at, hijack_reported FROM subjects WHERE subject = $1 FOR UPDATE", subject
    )
    assert row is not None
    return row


async def mark_hijacked(conn: asyncpg.Connection, subject: str) -> None:
    await conn.execute("UPDATE subjects SET hijack_reported = true WHERE subject = $1", subject)
    await conn.execute(
        "UPDATE episodes SET google_email = NULL WHERE subject = $1 AND ended_at IS NULL", subject
    )


async def mark_settled(conn: asyncpg.Connection, subject: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE subjects SET settled_at = greatest(settled_at, $2) WHERE subject = $1", subject, at
    )


async def open_episode(conn: asyncpg.Connection, opening: Opening, now: datetime) -> uuid.UUID | None:
    """Open an episode; None when the subject already has an open one."""
    value = await conn.fetchval(
        "INSERT INTO episodes (id, user_id, subject, reason, began_at, opened_at, google_email)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (subject) WHERE ended_at IS NULL DO NOTHING RETURNING id",
        uuid.uuid4(),
        opening.user_id,
        opening.subject,
        opening.reason,
        opening.began_at,
        now,
        opening.google_email,
    )
    return value if isinstance(value, uuid.UUID) else None


async def open_episode_of(conn: asyncpg.Connection, subject: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM episodes WHERE subject = $1 AND ended_at IS NULL", subject)


async def end_episode(
    conn: asyncpg.Connection, episode_id: uuid.UUID, cause: str, now: datetime
) -> asyncpg.Record:
    """Cancel the episode's pending emails, then end it; returns the ended episode.

    The second cancel catches a reminder that a delivery worker scheduled while this transaction
    waited for the episode row; once the episode is ended no worker schedules another.
    """
    await cancel_jobs(conn, episode_id=episode_id, reason=f"episode ended: {cause}")
    row = await conn.fetchrow(
        "UPDATE episodes SET ended_at = $2, end_cause = $3 WHERE id = $1 RETURNING *", episode_id, now, cause
    )
    assert row is not None
    await cancel_jobs(conn, episode_id=episode_id, reason=f"episode ended: {cause}")
    return row


async def stop_reminders(conn: asyncpg.Connection, episode_id: uuid.UUID, now: datetime) -> bool:
    """Cancel pending reminders and remember the stop; False when the episode is unknown."""
    await cancel_jobs(conn, episode_id=episode_id, reason="reminders stopped by the user", kind="reminder")
    status = await conn.execute(
        "UPDATE episodes SET reminders_stopped_at = coalesce(reminders_stopped_at, $2) WHERE id = $1",
        episode_id,
        now,
    )
    await cancel_jobs(conn, episode_id=episode_id, reason="reminders stopped by the user", kind="reminder")
    return status != "UPDATE 0"


async def lock_episode(conn: asyncpg.Connection, episode_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM episodes WHERE id = $1 FOR UPDATE", episode_id)


async def record_episode_email(
    conn: asyncpg.Connection, episode_id: uuid.UUID, sequence: int, at: datetime
) -> None:
    """Note that the alert (sequence 0) or reminder ``sequence`` went out."""
    if sequence == 0:
        await conn.execute("UPDATE episodes SET alert_sent_at = $2 WHERE id = $1", episode_id, at)
    else:
        await conn.execute(
            "UPDATE episodes SET reminders_sent = greatest(reminders_sent, $2) WHERE id = $1",
            episode_id,
            sequence,
        )


async def count_open_episodes(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM episodes WHERE ended_at IS NULL"))


async def hijack_reported(conn: asyncpg.Connection, subject: str) -> bool:
    return bool(await conn.fetchval("SELECT hijack_reported FROM subjects WHERE subject = $1", subject))


# --------------------------------------------------------------------------- jobs and the delivery log


async def add_job(
    conn: asyncpg.Connection,
    *,
    dedupe_key: str,
    kind: str,
    due_at: datetime,
    now: datetime,
    user_id: str | None = None,
    episode_id: uuid.UUID | None = None,
    reason: str | None = None,
    sequence: int = 0,
    data: dict[str, Any] | None = None,
) -> bool:
    """Record the intent to send one email; False if that intent (``dedupe_key``) already exists."""
    result = await conn.fetchval(
        "INSERT INTO jobs (id, dedupe_key, kind, user_id, episode_id, reason, sequence, data, due_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (dedupe_key) DO NOTHING RETURNING true",
        uuid.uuid4(),
        dedupe_key,
        kind,
        user_id,
        episode_id,
        reason,
        sequence,
        data or {},
        due_at,
        now,
    )
    return bool(result)


async def cancel_jobs(
    conn: asyncpg.Connection,
    *,
    reason: str,
    episode_id: uuid.UUID | None = None,
    user_id: str | None = None,
    kind: str | None = None,
) -> int:
    """Cancel pending jobs of an episode, or of a user (optionally of one kind)."""
    status = await conn.execute(
        "UPDATE jobs SET state = 'cancelled', last_error = $4"
        " WHERE state = 'pending' AND ($1::uuid IS NULL OR episode_id = $1)"
        " AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR kind = $3)",
        episode_id,
        user_id,
        kind,
        reason,
    )
    return int(status.split()[-1])


async def claim_due_job(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """Lock the oldest due pending job that no other worker holds (until this transaction ends)."""
    return await conn.fetchrow(
        "SELECT * FROM jobs WHERE state = 'pending' AND due_at <= $1"
        " ORDER BY due_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        now,
    )


async def mark_sending(conn: asyncpg.Connection, job_id: uuid.UUID, *, by: str) -> None:
    """The claimed job is being attempted by ``by`` (committed before anything is sent)."""
    await conn.execute(
        "UPDATE jobs SET state = 'sending', attempt_started_at = now(), sending_by = $2,"
        " smtp_started_at = NULL WHERE id = $1",
        job_id,
        by,
    )


async def mark_smtp_started(conn: asyncpg.Connection, job_id: uuid.UUID, *, by: str) -> bool:
    """Note that ``by`` now talks to the SMTP server; False when the attempt is no longer its own."""
    result = await conn.fetchval(
        "UPDATE jobs SET smtp_started_at = now() WHERE id = $1 AND state = 'sending' AND sending_by = $2"
        " RETURNING true",
        job_id,
        by,
    )
    return bool(result)


async def lock_own_attempt(conn: asyncpg.Connection, job_id: uuid.UUID, *, by: str) -> bool:
    """Lock the job to record the outcome of ``by``'s attempt; False when it was taken over."""
    result = await conn.fetchval(
        "SELECT true FROM jobs WHERE id = $1 AND state = 'sending' AND sending_by = $2 FOR UPDATE",
        job_id,
        by,
    )
    return bool(result)


async def claim_stale_attempt(conn: asyncpg.Connection, *, stale_after: float) -> asyncpg.Record | None:
    """Lock a job left in ``sending`` longer than ``stale_after`` seconds (database time) since its
    attempt, or its SMTP conversation, began: the worker that took it died or lost the database."""
    return await conn.fetchrow(
        "SELECT * FROM jobs WHERE state = 'sending'"
        " AND coalesce(smtp_started_at, attempt_started_at) < now() - make_interval(secs => $1)"
        " ORDER BY attempt_started_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        stale_after,
    )


async def finish_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, *, state: str, attempts: int, at: datetime, error: str | None
) -> None:
    await conn.execute(
        "UPDATE jobs SET state = $2, attempts = $3, finished_at = $4, last_error = $5 WHERE id = $1",
        job_id,
        state,
        attempts,
        at,
        error,
    )


async def reschedule_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, *, attempts: int, due_at: datetime, error: str
) -> None:
    await conn.execute(
        "UPDATE jobs SET state = 'pending', attempts = $2, due_at = $3, last_error = $4 WHERE id = $1",
        job_id,
        attempts,
        due_at,
        error,
    )


async def log_attempt(
    conn: asyncpg.Connection,
    job_id: uuid.UUID,
    *,
    attempt: int,
    at: datetime,
    outcome: str,
    stage: str,
    smtp_code: int | None = None,
    detail: str | None = None,
    recipient: str | None = None,
    message_id: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO delivery_log (job_id, attempt, at, outcome, stage, smtp_code, detail, recipient, message_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        job_id,
        attempt,
        at,
        outcome,
        stage,
        smtp_code,
        (detail or "")[:500] or None,
        recipient,
        message_id,
    )
