"""asyncpg SQL for what sync knows of each user: grant state, destination calendar, an open
calendar problem, and the last write outcomes. Every time comes from the caller's clock."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def set_grant_state(
    conn: asyncpg.Connection, user_id: str, state: str, reason: str | None, at: datetime
) -> bool:
    """Record the user's grant state unless a later event already did; True if it changed."""
    changed = await conn.fetchval(
        "INSERT INTO grant_states (user_id, state, reason, changed_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (user_id) DO UPDATE SET state = $2, reason = $3, changed_at = $4"
        " WHERE grant_states.changed_at <= $4 RETURNING true",
        user_id,
        state,
        reason,
        at,
    )
    return bool(changed)


async def set_grant_id(conn: asyncpg.Connection, user_id: str, grant_id: str) -> None:
    await conn.execute("UPDATE grant_states SET grant_id = $2 WHERE user_id = $1", user_id, grant_id)


async def reset_destination(conn: asyncpg.Connection, user_id: str, now: datetime) -> None:
    """Forget the destination calendar and any blocking problem: the calendar is resolved again
    (an open problem episode stays open until a write succeeds)."""
    await conn.execute(
        "UPDATE grant_states SET calendar_id = NULL, calendar_problem = NULL, resolve_due_at = $2"
        " WHERE user_id = $1",
        user_id,
        now,
    )


async def resolve_soon(conn: asyncpg.Connection, user_id: str, now: datetime) -> None:
    """A user without a destination calendar gets one resolved at the resolver's next look."""
    await conn.execute(
        "UPDATE grant_states SET resolve_due_at = $2 WHERE user_id = $1 AND calendar_id IS NULL",
        user_id,
        now,
    )


async def clear_calendar_problem(conn: asyncpg.Connection, user_id: str) -> None:
    """Writes may be tried again (e.g. after reconsent); the episode ends with the next success."""
    await conn.execute("UPDATE grant_states SET calendar_problem = NULL WHERE user_id = $1", user_id)


async def open_calendar_problem(
    conn: asyncpg.Connection, user_id: str, problem: str, calendar_id: str, since: datetime
) -> bool:
    """Block the user's writes on a calendar problem; True only when it opens an episode (so the
    notifier hears of it once per episode, however often writes are retried meanwhile)."""
    was_open = await conn.fetchval(
        "SELECT problem_episode FROM grant_states WHERE user_id = $1 FOR UPDATE", user_id
    )
    await conn.execute(
        "UPDATE grant_states SET calendar_problem = $2, problem_calendar = $3,"
        " problem_since = CASE WHEN problem_episode THEN problem_since ELSE $4 END, problem_episode = true"
        " WHERE user_id = $1",
        user_id,
        problem,
        calendar_id,
        since,
    )
    return was_open is False


async def close_problem_episode(conn: asyncpg.Connection, user_id: str) -> bool:
    """A write succeeded: an open episode ends (True: tell the notifier)."""
    closed = await conn.fetchval(
        "UPDATE grant_states SET problem_episode = false, problem_calendar = NULL, problem_since = NULL"
        " WHERE user_id = $1 AND problem_episode AND calendar_problem IS NULL RETURNING true",
        user_id,
    )
    return bool(closed)


async def note_user_outcome(
    conn: asyncpg.Connection, user_id: str, now: datetime, failure: str | None
) -> None:
    if failure is None:
        await conn.execute("UPDATE grant_states SET last_success_at = $2 WHERE user_id = $1", user_id, now)
    else:
        await conn.execute(
            "UPDATE grant_states SET last_failure_at = $2, last_failure = $3 WHERE user_id = $1",
            user_id,
            now,
            failure,
        )


async def claim_unresolved(pool: asyncpg.Pool, now: datetime, retry_at: datetime) -> list[str]:
    """Connected users without a destination calendar whose resolution is due."""
    rows = await pool.fetch(
        "UPDATE grant_states SET resolve_due_at = $2 WHERE user_id IN (SELECT user_id FROM grant_states"
        " WHERE state = 'connected' AND calendar_id IS NULL AND resolve_due_at <= $1"
        " ORDER BY resolve_due_at LIMIT 20 FOR UPDATE SKIP LOCKED) RETURNING user_id",
        now,
        retry_at,
    )
    return [str(r["user_id"]) for r in rows]


async def set_calendar(conn: asyncpg.Connection, user_id: str, calendar_id: str) -> bool:
    changed = await conn.fetchval(
        "UPDATE grant_states SET calendar_id = $2 WHERE user_id = $1 AND state = 'connected'"
        " AND calendar_id IS NULL RETURNING true",
        user_id,
        calendar_id,
    )
    return bool(changed)


async def choose_calendar(conn: asyncpg.Connection, user_id: str, calendar_id: str) -> bool:
    """The user's choice replaces the destination and ends any calendar problem; False if the user
    is not connected (any more)."""
    chosen = await conn.fetchval(
        "UPDATE grant_states SET calendar_id = $2, calendar_problem = NULL, problem_episode = false,"
        " problem_calendar = NULL, problem_since = NULL WHERE user_id = $1 AND state = 'connected'"
        " RETURNING true",
        user_id,
        calendar_id,
    )
    return bool(chosen)


async def is_connected(conn: asyncpg.Connection, user_id: str) -> bool:
    state = await conn.fetchval("SELECT state FROM grant_states WHERE user_id = $1", user_id)
    return bool(state == "connected")


async def destination(conn: asyncpg.Connection, user_id: str) -> asyncpg.Record | None:
    """The user's grant state and destination calendar (None: sync has not heard of the user)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT state, calendar_id FROM grant_states WHERE user_id = $1", user_id
    )
    return row
