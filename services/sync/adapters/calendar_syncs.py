"""asyncpg SQL for inbound sync requests (table ``calendar_syncs``): asking for a sync of one
user's calendar, coalesced in the row. Every time comes from the caller's clock."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg

Cause = Literal["initial", "push", "safety_net", "operator"]


async def request(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: str, calendar_id: str, now: datetime, cause: Cause
) -> None:
    """Make the calendar's sync due now. A sync already pending absorbs the request; a running one
    gets one follow-up run (however many requests arrive meanwhile)."""
    await conn.execute(
        "INSERT INTO calendar_syncs (user_id, calendar_id, due_at, requested_by, last_push_at)"
        " VALUES ($1, $2, $3::timestamptz, $4::text, CASE WHEN $4 = 'push' THEN $3 END)"
        " ON CONFLICT (user_id, calendar_id) DO UPDATE SET"
        " follow_up = calendar_syncs.follow_up OR calendar_syncs.state = 'running',"
        " state = CASE WHEN calendar_syncs.state = 'running' THEN 'running' ELSE 'pending' END,"
        " due_at = least(calendar_syncs.due_at, $3), requested_by = $4,"
        " last_push_at = CASE WHEN $4 = 'push' THEN $3 ELSE calendar_syncs.last_push_at END",
        user_id,
        calendar_id,
        now,
        cause,
    )


async def mark_synced(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: str, calendar_id: str, sync_token: str, now: datetime
) -> None:
    """A full sync of the calendar ended with ``sync_token``: the calendar may be watched."""
    await conn.execute(
        "INSERT INTO calendar_syncs (user_id, calendar_id, state, due_at, requested_by, sync_token,"
        " last_synced_at) VALUES ($1, $2, 'idle', $3, 'initial', $4, $3)"
        " ON CONFLICT (user_id, calendar_id) DO UPDATE SET sync_token = $4, last_synced_at = $3",
        user_id,
        calendar_id,
        now,
        sync_token,
    )
