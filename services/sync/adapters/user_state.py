"""asyncpg SQL for what sync knows of each user: grant state, destination calendar, an open
calendar problem, and the last write outcomes. Every time comes from the caller's clock."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def _update(
    conn: asyncpg.Connection, user_id: str, assignments: str, *values: object, where: str = "true"
) -> bool:
    """``UPDATE grant_states SET <assignments>`` for one user, where ``where`` holds: ``$1`` is the
    user id, ``values`` are $2, $3... True if the row was updated."""
    status = await conn.execute(
        f"UPDATE grant_states SET {assignments} WHERE user_id = $1 AND ({where})",  # noqa: S608
        user_id,
        *values,
    )
    return str(status) != "UPDATE 0"


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
    await _update(conn, user_id, "calendar_id = NULL, calendar_problem = NULL, resolve_due_at = $2", now)


async def resolve_soon(conn: asyncpg.Connection, user_id: str, now: datetime) -> None:
    """A user without a destination calendar gets one resolved at the resolver's next look."""
    await _update(conn, user_id, "resolve_due_at = $2", now, where="calendar_id IS NULL")


async def clear_calendar_problem(conn: asyncpg.Connection, user_id: str) -> None:
    """Writes may be tried again (e.g. after reconsent); the episode ends with the next success."""
    await _update(conn, user_id, "calendar_problem = NULL")


async def open_calendar_problem(
    conn: asyncpg.Connection, user_id: str, problem: str, calendar_id: str, since: datetime
) -> bool:
    """Block the user's writes on a calendar problem; True only when it opens an episode (so the
    notifier hears of it once per episode, however often writes are retried meanwhile)."""
    was_open = await conn.fetchval(
        "SELECT problem_episode FROM grant_states WHERE user_id = $1 FOR UPDATE", user_id
    )
    sets = (
        "calendar_problem = $2, problem_calendar = $3,"
        " problem_since = CASE WHEN problem_episode THEN problem_since ELSE $4 END, problem_episode = true"
    )
    await _update(conn, user_id, sets, problem, calendar_id, since)
    return was_open is False


async def close_problem_episode(conn: asyncpg.Connection, user_id: str) -> bool:
    """A write succeeded: an open episode ends (True: tell the notifier)."""
    sets = "problem_episode = false, problem_calendar = NULL, problem_since = NULL"
    return await _update(conn, user_id, sets, where="problem_episode AND calendar_problem IS NULL")


async def note_user_outcome(
    conn: asyncpg.Connection, user_id: str, now: datetime, failure: str | None
) -> None:
    if failure is None:
        await _update(conn, user_id, "last_success_at = $2", now)
    else:
        await _update(conn, user_id, "last_failure_at = $2, last_failure = $3", now, failure)


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
    return await _update(
        conn, user_id, "calendar_id = $2", calendar_id, where="state = 'connected' AND calendar_id IS NULL"
    )


async def choose_calendar(conn: asyncpg.Connection, user_id: str, calendar_id: str) -> bool:
    """The user's choice replaces the destination and ends any calendar problem; False if the user
    is not connected (any more)."""
    sets = (
        "calendar_id = $2, calendar_problem = NULL, problem_episode = false, problem_calendar = NULL,"
        " problem_since = NULL"
    )
    return await _update(conn, user_id, sets, calendar_id, where="state = 'connected'")


async def is_connected(conn: asyncpg.Connection, user_id: str) -> bool:
    state = await conn.fetchval("SELECT state FROM grant_states WHERE user_id = $1", user_id)
    return bool(state == "connected")


async def destination(conn: asyncpg.Connection, user_id: str) -> asyncpg.Record | None:
    """The user's grant state and destination calendar (None: sync has not heard of the user)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT state, calendar_id FROM grant_states WHERE user_id = $1", user_id
    )
    return row
