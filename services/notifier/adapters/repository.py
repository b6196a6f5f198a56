"""asyncpg SQL for what the notifier knows about people and problems: contacts, subjects, episodes.

Lock order, to stay free of deadlocks between consumers and the delivery worker: a subject row first,
then jobs, then episodes. The worker claims a job and then locks its episode; consumers that end or
stop an episode cancel its jobs (``job_queue``) before they touch the episode row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.notifier.adapters.job_queue import cancel_jobs
from services.notifier.domain.episodes import Opening
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


async def open_episode_of_user(conn: asyncpg.Connection, user_id: str) -> asyncpg.Record | None:
    """The user's newest open episode (a grant's or a calendar's problem), locked, or None."""
    return await conn.fetchrow(
        "SELECT * FROM episodes WHERE user_id = $1 AND ended_at IS NULL ORDER BY opened_at DESC LIMIT 1 FOR UPDATE",
        user_id,
    )


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
    return str(status) != "UPDATE 0"


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
