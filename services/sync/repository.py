"""asyncpg SQL for the sync schema: stored appointments and known grant states."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from shared import messages as m


async def appointment_version(conn: asyncpg.Connection, appointment_id: str) -> int | None:
    value = await conn.fetchval(
        "SELECT version FROM appointments WHERE appointment_id = $1 FOR UPDATE", appointment_id
    )
    return int(value) if value is not None else None


async def save_appointment(conn: asyncpg.Connection, change: m.Message, *, cancelled: bool) -> None:
    assert isinstance(change, m.AppointmentCreated | m.AppointmentUpdated | m.AppointmentCancelled)
    await conn.execute(
        "INSERT INTO appointments (appointment_id, owner_user_id, account_id, version, cancelled, payload)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (appointment_id) DO UPDATE SET owner_user_id = $2, account_id = $3,"
        " version = $4, cancelled = $5, payload = $6, received_at = now()",
        change.appointment_id,
        change.owner_user_id,
        change.account_id,
        change.version,
        cancelled,
        change.model_dump(mode="json"),
    )


async def set_grant_state(
    conn: asyncpg.Connection, user_id: str, state: str, reason: str | None, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO grant_states (user_id, state, reason, changed_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (user_id) DO UPDATE SET state = $2, reason = $3, changed_at = $4"
        " WHERE grant_states.changed_at <= $4",
        user_id,
        state,
        reason,
        at,
    )


async def forget_user(conn: asyncpg.Connection, user_id: str) -> None:
    await conn.execute("DELETE FROM appointments WHERE owner_user_id = $1", user_id)
    await conn.execute("DELETE FROM grant_states WHERE user_id = $1", user_id)
