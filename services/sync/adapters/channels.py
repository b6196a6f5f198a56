"""asyncpg SQL for watch channels (table ``watch_channels``): what the channel keeper creates,
renews and stops, and what the webhook looks up. Every time comes from the caller's clock."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import asyncpg

Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def insert_creating(
    conn: Conn,
    channel_id: str,
    user_id: str,
    calendar_id: str,
    grant_id: str | None,
    token_hash: bytes,
    now: datetime,
) -> None:
    """The row exists before events.watch is called: its first push may arrive before the answer."""
    await conn.execute(
        "INSERT INTO watch_channels (channel_id, user_id, calendar_id, grant_id, token_hash, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        channel_id,
        user_id,
        calendar_id,
        grant_id,
        token_hash,
        now,
    )


async def store_watched(conn: Conn, channel_id: str, resource_id: str, expires_at: datetime) -> None:
    await conn.execute(
        "UPDATE watch_channels SET resource_id = $2, expires_at = $3 WHERE channel_id = $1",
        channel_id,
        resource_id,
        expires_at,
    )


async def settle(
    conn: Conn, channel_id: str, now: datetime, *, at_google: bool, reason: str | None = None
) -> None:
    """The channel is stopped (at Google, or only here: its pushes are ignored from now on)."""
    await conn.execute(
        "UPDATE watch_channels SET state = 'stopped', stopped_at = $2, at_google = $3,"
        " stop_reason = coalesce($4, stop_reason) WHERE channel_id = $1 AND state <> 'stopped'",
        channel_id,
        now,
        at_google,
        reason,
    )


async def lookup(conn: Conn, channel_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT channel_id, user_id, calendar_id, token_hash, resource_id, state, stop_reason"
        " FROM watch_channels WHERE channel_id = $1",
        channel_id,
    )
    return row


async def mark_live(conn: Conn, channel_id: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE watch_channels SET state = 'live', live_at = $2 WHERE channel_id = $1 AND state = 'creating'",
        channel_id,
        now,
    )


async def stop_locally(conn: Conn, user_id: str, now: datetime, reason: str) -> int:
    """Every channel of the user is stopped here only (the grant is dead: Google cannot be asked)."""
    done = await conn.fetch(
        "UPDATE watch_channels SET state = 'stopped', stopped_at = $2, stop_reason = $3,"
        " at_google = false WHERE user_id = $1 AND state <> 'stopped' RETURNING channel_id",
        user_id,
        now,
        reason,
    )
    return len(done)


async def stop_for_deleted_grant(conn: Conn, user_id: str, grant_id: str) -> int:
    """The user's channels are to be stopped with the deleted grant's token; how many."""
    marked = await conn.fetch(
        "UPDATE watch_channels SET state = 'stopping', stop_reason = 'grant_deleted', grant_id = $2"
        " WHERE user_id = $1 AND state <> 'stopped' RETURNING channel_id",
        user_id,
        grant_id,
    )
    return len(marked)


async def due_for_watch(
    conn: Conn, renew_at: datetime, retry_since: datetime, limit: int
) -> list[asyncpg.Record]:
    """Connected users whose destination calendar had its initial sync and has no open channel
    lasting past ``renew_at`` (none yet, or only ones to renew), and no watch failure since ``retry_since``."""
    return list(
        await conn.fetch(
            "SELECT g.user_id, g.calendar_id, g.grant_id FROM grant_states g"
            " JOIN calendar_syncs s ON s.user_id = g.user_id AND s.calendar_id = g.calendar_id"
            " WHERE g.state = 'connected' AND s.sync_token IS NOT NULL AND NOT EXISTS ("
            "  SELECT 1 FROM watch_channels c WHERE c.user_id = g.user_id AND c.calendar_id = g.calendar_id"
            "  AND ((c.state IN ('creating', 'live') AND (c.expires_at IS NULL OR c.expires_at > $1))"
            "   OR (c.stop_reason = 'watch_failed' AND c.stopped_at > $2)))"
            " ORDER BY g.user_id LIMIT $3",
            renew_at,
            retry_since,
            limit,
        )
    )


async def retire_renewed(conn: Conn, user_id: str, calendar_id: str, new_channel_id: str) -> None:
    """The new channel exists: the older open ones on the calendar are to be stopped."""
    await conn.execute(
        "UPDATE watch_channels SET state = 'stopping', stop_reason = 'renewed' WHERE user_id = $1"
        " AND calendar_id = $2 AND channel_id <> $3 AND state IN ('creating', 'live') AND resource_id IS NOT NULL",
        user_id,
        calendar_id,
        new_channel_id,
    )


async def retire_switched(conn: Conn) -> None:
    """Channels on a calendar that is no longer the user's destination are to be stopped."""
    await conn.execute(
        "UPDATE watch_channels c SET state = 'stopping', stop_reason = 'calendar_switched'"
        " FROM grant_states g WHERE g.user_id = c.user_id AND g.state = 'connected'"
        " AND g.calendar_id IS DISTINCT FROM c.calendar_id AND c.state IN ('creating', 'live')"
        " AND c.resource_id IS NOT NULL"
    )


async def abandon_unconfirmed(conn: Conn, before: datetime, now: datetime) -> None:
    """A channel whose events.watch never answered (a crash) cannot be stopped: it lapses."""
    await conn.execute(
        "UPDATE watch_channels SET state = 'stopped', stopped_at = $2, stop_reason = 'watch_unconfirmed',"
        " at_google = false"
        " WHERE state = 'creating' AND resource_id IS NULL AND created_at < $1",
        before,
        now,
    )


async def stopping(conn: Conn, limit: int) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT channel_id, user_id, grant_id, resource_id, stop_reason FROM watch_channels"
            " WHERE state = 'stopping' ORDER BY user_id, channel_id LIMIT $1",
            limit,
        )
    )


async def deleted_grant_outcome(conn: Conn, user_id: str, grant_id: str) -> tuple[int, int] | None:
    """(stopped at Google, abandoned) of the deleted grant's channels; None while some are left."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE state = 'stopping') AS left,"
        " count(*) FILTER (WHERE state = 'stopped' AND at_google) AS stopped,"
        " count(*) FILTER (WHERE state = 'stopped' AND NOT at_google) AS abandoned"
        " FROM watch_channels WHERE user_id = $1 AND grant_id = $2 AND stop_reason = 'grant_deleted'",
        user_id,
        grant_id,
    )
    assert row is not None
    return None if row["left"] else (int(row["stopped"]), int(row["abandoned"]))


async def live_on(conn: Conn, user_id: str, calendar_id: str, now: datetime) -> bool:
    """Whether the user has a live (push-confirmed), unexpired channel on the calendar."""
    found = await conn.fetchval(
        "SELECT 1 FROM watch_channels WHERE user_id = $1 AND calendar_id = $2 AND state = 'live'"
        " AND (expires_at IS NULL OR expires_at > $3) LIMIT 1",
        user_id,
        calendar_id,
        now,
    )
    return found is not None
