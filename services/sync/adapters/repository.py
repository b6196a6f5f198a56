"""asyncpg SQL for appointments: each row is the platform's latest version and also the writer's
work item (claim, lease, due time, event id). Every time comes from the caller's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.sync.domain.write_plan import Target


async def record_change(
    conn: asyncpg.Connection, change: dict[str, Any], row: dict[str, Any], now: datetime
) -> bool:
    """Store a change if it is newer than what we hold; it becomes due at once. False if stale."""
    stored = await conn.fetchval(
        "INSERT INTO appointments (appointment_id, owner_user_id, account_id, version, cancelled,"
        " payload, received_at, starts_at, ends_at, due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $7)"
        " ON CONFLICT (appointment_id) DO UPDATE SET owner_user_id = $2, account_id = $3,"
        " version = $4, cancelled = $5, payload = $6, received_at = $7,"
        " starts_at = coalesce($8, appointments.starts_at), ends_at = coalesce($9, appointments.ends_at),"
        " state = 'pending', last_error = NULL,"  # a backoff already running is kept (no quota burst)
        " due_at = CASE WHEN appointments.state = 'pending' AND appointments.attempts > 0"
        "  THEN greatest(appointments.due_at, $7) ELSE $7 END,"
        " attempts = CASE WHEN appointments.state = 'pending' THEN appointments.attempts ELSE 0 END"
        " WHERE appointments.version < $4 RETURNING true",
        row["appointment_id"],
        row["owner_user_id"],
        row["account_id"],
        row["version"],
        row["cancelled"],
        change,
        now,
        row["starts_at"],
        row["ends_at"],
    )
    return bool(stored)


async def stored_version(conn: asyncpg.Connection, appointment_id: str) -> int | None:
    value = await conn.fetchval("SELECT version FROM appointments WHERE appointment_id = $1", appointment_id)
    return int(value) if value is not None else None


async def requeue_upcoming(conn: asyncpg.Connection, user_id: str, now: datetime) -> int:
    """Make the user's upcoming, synced appointments pending again (they move to a new calendar)."""
    status = await conn.execute(
        "UPDATE appointments SET state = 'pending', due_at = $2, attempts = 0"
        " WHERE owner_user_id = $1 AND state = 'synced' AND NOT cancelled AND ends_at >= $2",
        user_id,
        now,
    )
    return int(status.split()[-1])


async def requeue_elsewhere(conn: asyncpg.Connection, user_id: str, calendar_id: str, now: datetime) -> int:
    """Upcoming synced appointments whose event is in another calendar become pending (they move)."""
    status = await conn.execute(
        "UPDATE appointments SET state = 'pending', due_at = $3, attempts = 0"
        " WHERE owner_user_id = $1 AND state = 'synced' AND NOT cancelled AND ends_at >= $3"
        " AND calendar_id IS DISTINCT FROM $2",
        user_id,
        calendar_id,
        now,
    )
    return int(status.split()[-1])


async def make_due(conn: asyncpg.Connection, user_id: str, now: datetime) -> None:
    """The user's state changed: waiting appointments are due now (backoff is not carried over)."""
    await conn.execute(
        "UPDATE appointments SET due_at = $2, attempts = 0, wait_reason = NULL"
        " WHERE owner_user_id = $1 AND state = 'pending'",
        user_id,
        now,
    )


async def forget_user(conn: asyncpg.Connection, user_id: str) -> None:
    await conn.execute("DELETE FROM appointments WHERE owner_user_id = $1", user_id)
    await conn.execute("DELETE FROM grant_states WHERE user_id = $1", user_id)


async def purge_abandoned(pool: asyncpg.Pool, now: datetime, retention: timedelta) -> int:
    """Drop pending work of connections deleted (and everything of users deleted) long enough ago."""
    cutoff = now - retention
    async with pool.acquire() as conn, conn.transaction():
        dropped = await conn.execute(
            "DELETE FROM appointments a USING grant_states g WHERE g.user_id = a.owner_user_id"
            " AND g.changed_at < $1 AND ((g.state = 'deleted' AND a.state = 'pending')"
            " OR g.state = 'user_deleted')",
            cutoff,
        )
        await conn.execute(
            "DELETE FROM grant_states WHERE state = 'user_deleted' AND changed_at < $1", cutoff
        )
    return int(dropped.split()[-1])


# --------------------------------------------------------------------------- the writer's claims


async def claim(
    pool: asyncpg.Pool, owner: str, now: datetime, lease_until: datetime, per_user: int, limit: int
) -> list[asyncpg.Record]:
    """Lease up to ``limit`` due appointments, fairly across users and never more than
    ``per_user`` in flight for one user (across replicas: claims are serialised by a lock)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('calsync.sync.claim'))")
        return list(
            await conn.fetch(
                "WITH busy AS (SELECT owner_user_id, count(*) AS n FROM appointments"
                "  WHERE lease_until > $1 GROUP BY owner_user_id),"
                " ranked AS (SELECT a.appointment_id, a.owner_user_id, g.calendar_id AS user_calendar,"
                "  row_number() OVER (PARTITION BY a.owner_user_id ORDER BY"
                "   (a.starts_at IS NOT NULL AND a.starts_at < $1),"  # upcoming first, soonest first,
                "   CASE WHEN a.starts_at >= $1 THEN a.starts_at END, a.starts_at DESC) AS rank"  # then recent
                "  FROM appointments a JOIN grant_states g ON g.user_id = a.owner_user_id"
                "  WHERE a.state = 'pending' AND a.due_at <= $1 AND (a.lease_until IS NULL OR a.lease_until <= $1)"
                "  AND g.state = 'connected' AND g.calendar_id IS NOT NULL AND g.calendar_problem IS NULL),"
                " chosen AS (SELECT r.* FROM ranked r LEFT JOIN busy b USING (owner_user_id)"
                "  WHERE r.rank + coalesce(b.n, 0) <= $3 ORDER BY r.rank, random() LIMIT $4)"
                " UPDATE appointments a SET lease_owner = $5, lease_until = $2 FROM chosen c"
                " WHERE a.appointment_id = c.appointment_id"
                " RETURNING a.*, c.user_calendar",
                now,
                lease_until,
                per_user,
                limit,
                owner,
            )
        )


async def assign_target(pool: asyncpg.Pool, appointment_id: str, owner: str, target: Target) -> None:
    """Store the event id before it is used, so every later attempt uses the same one."""
    await _store_target(pool, appointment_id, owner, target, None)


async def record_target(
    conn: asyncpg.Connection, appointment_id: str, owner: str, target: Target, note: str | None
) -> None:
    """Where the written event lives now, with its etag (and a note such as "recreated")."""
    await _store_target(conn, appointment_id, owner, target, note)


async def _store_target(
    db: asyncpg.Pool | asyncpg.Connection, appointment_id: str, owner: str, target: Target, note: str | None
) -> None:
    """The claimed row's calendar, event id, generation and etag; the note only when one is given."""
    await db.execute(
        "UPDATE appointments SET calendar_id = $3, event_id = $4, generation = $5, etag = $6,"
        " note = coalesce($7, note) WHERE appointment_id = $1 AND lease_owner = $2",
        appointment_id,
        owner,
        target.calendar_id,
        target.event_id,
        target.generation,
        target.etag,
        note,
    )


async def settle(
    conn: asyncpg.Connection, appointment_id: str, owner: str, changes: dict[str, Any]
) -> asyncpg.Record | None:
    """End our claim with ``changes``; None if the claim was lost (another worker took over)."""
    names = list(changes)
    sets = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(names))
    row: asyncpg.Record | None = await conn.fetchrow(
        f"UPDATE appointments SET {sets}, lease_owner = NULL, lease_until = NULL"  # noqa: S608
        " WHERE appointment_id = $1 AND lease_owner = $2 RETURNING owner_user_id, version, state",
        appointment_id,
        owner,
        *[changes[name] for name in names],
    )
    return row


async def settle_synced(
    conn: asyncpg.Connection, appointment_id: str, owner: str, version: int, now: datetime
) -> None:
    """A written version: synced if nothing newer arrived meanwhile, pending (due) otherwise."""
    await conn.execute(
        "UPDATE appointments SET synced_version = $3, synced_at = $4, attempts = 0, wait_reason = NULL,"
        " last_error = NULL, state = CASE WHEN version = $3 THEN 'synced' ELSE 'pending' END,"
        " due_at = $4, lease_owner = NULL, lease_until = NULL"
        " WHERE appointment_id = $1 AND lease_owner = $2",
        appointment_id,
        owner,
        version,
        now,
    )


# --------------------------------------------------------------------------- views


async def appointment(pool: asyncpg.Pool, appointment_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT a.*, g.state AS grant_state, g.calendar_id AS user_calendar, g.calendar_problem"
        " FROM appointments a LEFT JOIN grant_states g ON g.user_id = a.owner_user_id"
        " WHERE a.appointment_id = $1",
        appointment_id,
    )
    return row


async def user_health(pool: asyncpg.Pool, user_id: str) -> tuple[asyncpg.Record | None, asyncpg.Record]:
    user = await pool.fetchrow("SELECT * FROM grant_states WHERE user_id = $1", user_id)
    counts = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE state = 'pending') AS pending,"
        " min(received_at) FILTER (WHERE state = 'pending') AS oldest_pending,"
        " count(*) FILTER (WHERE state = 'failed') AS failed FROM appointments WHERE owner_user_id = $1",
        user_id,
    )
    assert counts is not None
    return user, counts


async def user_inbound(
    pool: asyncpg.Pool, user_id: str
) -> tuple[asyncpg.Record | None, asyncpg.Record | None]:
    """The user's open watch channel (the newest not stopped) and the inbound sync of the calendar
    it watches, for sync health. No channel token or sync token is read."""
    channel = await pool.fetchrow(
        "SELECT calendar_id, state, expires_at, live_at FROM watch_channels"
        " WHERE user_id = $1 AND state <> 'stopped' ORDER BY state = 'live' DESC, created_at DESC LIMIT 1",
        user_id,
    )
    inbound = await pool.fetchrow(
        "SELECT s.calendar_id, s.state, s.due_at, s.requested_by, s.last_synced_at"
        " FROM calendar_syncs s JOIN grant_states g USING (user_id)"
        " WHERE s.user_id = $1 AND s.calendar_id = g.calendar_id",
        user_id,
    )
    return channel, inbound
