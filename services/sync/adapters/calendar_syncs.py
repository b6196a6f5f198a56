"""asyncpg SQL for inbound sync requests (table ``calendar_syncs``): asking for a sync of one
user's calendar, coalesced in the row. Every time comes from the caller's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import asyncpg

Cause = Literal["initial", "push", "safety_net", "operator"]


async def request(
    conn: asyncpg.Connection | asyncpg.Pool,
    user_id: str,
    calendar_id: str,
    now: datetime,
    cause: Cause,
    *,
    spacing: timedelta = timedelta(0),
) -> None:
    """Make the calendar's sync due now, or ``spacing`` after its last run if that is later (so a
    stream of pushes costs a calendar one run per ``spacing``). A sync already pending absorbs the
    request and keeps its time (a follow-up's pause, a retry's wait); a running one gets one
    follow-up run (however many requests arrive meanwhile)."""
    await conn.execute(
        "INSERT INTO calendar_syncs (user_id, calendar_id, due_at, requested_by, last_push_at)"
        " VALUES ($1, $2, $3::timestamptz, $4::text, CASE WHEN $4 = 'push' THEN $3::timestamptz END)"
        " ON CONFLICT (user_id, calendar_id) DO UPDATE SET"
        " follow_up = calendar_syncs.follow_up OR calendar_syncs.state = 'running',"
        " state = CASE WHEN calendar_syncs.state = 'running' THEN 'running' ELSE 'pending' END,"
        " due_at = CASE WHEN calendar_syncs.state = 'idle' THEN least(calendar_syncs.due_at,"
        " greatest($3, calendar_syncs.last_synced_at + $5::interval)) ELSE calendar_syncs.due_at END,"
        " requested_by = $4,"
        " last_push_at = CASE WHEN $4 = 'push' THEN $3::timestamptz ELSE calendar_syncs.last_push_at END",
        user_id,
        calendar_id,
        now,
        cause,
        spacing,
    )


async def due_now(conn: asyncpg.Connection | asyncpg.Pool, user_id: str, now: datetime) -> None:
    """Make every calendar of the user due now (one already running gets its follow-up)."""
    await conn.execute(
        "UPDATE calendar_syncs SET follow_up = follow_up OR state = 'running',"
        " state = CASE WHEN state = 'running' THEN 'running' ELSE 'pending' END, due_at = least(due_at, $2)"
        " WHERE user_id = $1",
        user_id,
        now,
    )


async def claim(
    pool: asyncpg.Pool, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[asyncpg.Record]:
    """Lease up to ``limit`` calendars due for a sync (requested, due by the safety net, or left
    running by a replica whose lease ran out). ``was`` is the state before: ``idle`` means the
    safety net made it due, no request did."""
    async with pool.acquire() as conn, conn.transaction():
        return list(
            await conn.fetch(
                "WITH due AS (SELECT user_id, calendar_id, state FROM calendar_syncs"
                "  WHERE (state <> 'running' AND due_at <= $1) OR (state = 'running' AND lease_until <= $1)"
                "  ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)"
                " UPDATE calendar_syncs s SET state = 'running', follow_up = false,"
                " lease_owner = $2, lease_until = $3"
                " FROM due WHERE s.user_id = due.user_id AND s.calendar_id = due.calendar_id"
                " RETURNING s.user_id, s.calendar_id, s.sync_token, s.last_push_at, s.last_synced_at,"
                " due.state AS was",
                now,
                owner,
                lease_until,
                limit,
            )
        )


async def finish(
    conn: asyncpg.Connection,
    user_id: str,
    calendar_id: str,
    owner: str,
    now: datetime,
    next_due: datetime,
    sync_token: str | None,
    follow_up_at: datetime,
) -> None:
    """End a run with Google's new sync token: one more run at ``follow_up_at`` if requests came
    meanwhile, otherwise idle until the safety net's ``next_due``."""
    await conn.execute(
        "UPDATE calendar_syncs SET state = CASE WHEN follow_up THEN 'pending' ELSE 'idle' END,"
        " due_at = CASE WHEN follow_up THEN $7::timestamptz ELSE $5::timestamptz END, follow_up = false,"
        " lease_owner = NULL, lease_until = NULL, sync_token = coalesce($6, sync_token), last_synced_at = $4"
        " WHERE user_id = $1 AND calendar_id = $2 AND lease_owner = $3",
        user_id,
        calendar_id,
        owner,
        now,
        next_due,
        sync_token,
        follow_up_at,
    )


async def release(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: str, calendar_id: str, owner: str, due_at: datetime
) -> None:
    """A run that could not finish: the calendar is due again at ``due_at`` (its token is kept)."""
    await conn.execute(
        "UPDATE calendar_syncs SET state = 'pending', due_at = $4, follow_up = false,"
        " lease_owner = NULL, lease_until = NULL"
        " WHERE user_id = $1 AND calendar_id = $2 AND lease_owner = $3",
        user_id,
        calendar_id,
        owner,
        due_at,
    )


async def extend(
    conn: asyncpg.Connection, user_id: str, calendar_id: str, owner: str, lease_until: datetime
) -> bool:
    """Keep a long run's lease (once per page); False when another replica has taken it over."""
    status: str = await conn.execute(
        "UPDATE calendar_syncs SET lease_until = $4 WHERE user_id = $1 AND calendar_id = $2 AND lease_owner = $3",
        user_id,
        calendar_id,
        owner,
        lease_until,
    )
    return status != "UPDATE 0"


async def purge(pool: asyncpg.Pool, ended_before: datetime) -> tuple[int, int]:
    """Drop inbound state nothing needs any more: calendars that are no longer a connection's
    destination (switched away from, connection or user deleted) with what sync knew of their
    events, and known events, tombstones included, that ended before ``ended_before`` (outside any
    full list's window). Returns (calendars, events) dropped."""
    async with pool.acquire() as conn, conn.transaction():
        calendars = await conn.execute(
            "DELETE FROM calendar_syncs c WHERE NOT EXISTS (SELECT 1 FROM grant_states g"
            " WHERE g.user_id = c.user_id AND g.calendar_id = c.calendar_id"
            " AND g.state NOT IN ('deleted', 'user_deleted'))"
        )
        events = await conn.execute(
            "DELETE FROM calendar_events_known k WHERE k.ends_at < $1 OR NOT EXISTS (SELECT 1 FROM grant_states g"
            " WHERE g.user_id = k.user_id AND g.calendar_id = k.calendar_id"
            " AND g.state NOT IN ('deleted', 'user_deleted'))",
            ended_before,
        )
    return int(calendars.split()[-1]), int(events.split()[-1])


async def last_push_at(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: str, calendar_id: str
) -> datetime | None:
    """When the calendar's last push notification arrived (None: never, or no sync row)."""
    value: datetime | None = await conn.fetchval(
        "SELECT last_push_at FROM calendar_syncs WHERE user_id = $1 AND calendar_id = $2",
        user_id,
        calendar_id,
    )
    return value
