"""asyncpg SQL for the email job queue: intents to send (``jobs``) and every attempt (``delivery_log``).

Consumers add and cancel jobs in their message's transaction; the delivery worker claims due jobs
with ``FOR UPDATE SKIP LOCKED``. Lock order: see ``repository``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypedDict, Unpack

import asyncpg


async def add_job(
    conn: asyncpg.Connection,
    *,
    dedupe_key: str,
    kind: str,
    now: datetime,
    due_at: datetime | None = None,
    user_id: str | None = None,
    episode_id: uuid.UUID | None = None,
    reason: str | None = None,
    sequence: int = 0,
    data: dict[str, Any] | None = None,
) -> bool:
    """Record the intent to send one email, due at ``due_at`` (else at once); False if that intent
    (``dedupe_key``) already exists."""
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
        due_at or now,
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


class AttemptDetails(TypedDict, total=False):
    """What an attempt's ``delivery_log`` row records besides its outcome, as far as it is known."""

    smtp_code: int | None
    detail: str | None
    recipient: str | None
    message_id: str | None


async def log_attempt(
    conn: asyncpg.Connection,
    job_id: uuid.UUID,
    *,
    attempt: int,
    at: datetime,
    outcome: str,
    stage: str,
    **details: Unpack[AttemptDetails],
) -> None:
    await conn.execute(
        "INSERT INTO delivery_log (job_id, attempt, at, outcome, stage, smtp_code, detail, recipient, message_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        job_id,
        attempt,
        at,
        outcome,
        stage,
        details.get("smtp_code"),
        (details.get("detail") or "")[:500] or None,
        details.get("recipient"),
        details.get("message_id"),
    )
