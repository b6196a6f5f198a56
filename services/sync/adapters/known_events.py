"""asyncpg SQL for the events inbound sync has seen (table ``calendar_events_known``), and the
appointments those events belong to, as the domain's plain values (services/sync/domain/inbound.py)."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.sync.domain import mapping
from services.sync.domain.inbound import Known, Written, ends_at
from shared import messages as m


def _known(row: asyncpg.Record) -> Known:
    return Known(
        row["event_id"], row["appointment_id"], row["tag_version"], row["start_at"], row["end_at"],
        row["status"], row["busy"], row["etag"],
    )  # fmt: skip


async def known(
    conn: asyncpg.Connection, user_id: str, calendar_id: str, event_ids: list[str] | None = None
) -> dict[str, Known]:
    """What the last sync saw of these events (every event of the calendar without ``event_ids``)."""
    rows = await conn.fetch(
        "SELECT * FROM calendar_events_known WHERE user_id = $1 AND calendar_id = $2"
        " AND ($3::text[] IS NULL OR event_id = ANY($3))",
        user_id,
        calendar_id,
        event_ids,
    )
    return {row["event_id"]: _known(row) for row in rows}


async def remember(conn: asyncpg.Connection, user_id: str, calendar_id: str, event: Known) -> None:
    await conn.execute(
        "INSERT INTO calendar_events_known (user_id, calendar_id, event_id, appointment_id, tag_version,"
        " start_at, end_at, ends_at, status, busy, etag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (user_id, calendar_id, event_id) DO UPDATE SET appointment_id = $4, tag_version = $5,"
        " start_at = $6, end_at = $7, ends_at = $8, status = $9, busy = $10, etag = $11",
        user_id,
        calendar_id,
        event.event_id,
        event.appointment_id,
        event.tag_version,
        event.start,
        event.end,
        ends_at(event),
        event.status,
        event.busy,
        event.etag,
    )


async def forget(conn: asyncpg.Connection, user_id: str, calendar_id: str, event_id: str) -> None:
    await conn.execute(
        "DELETE FROM calendar_events_known WHERE user_id = $1 AND calendar_id = $2 AND event_id = $3",
        user_id,
        calendar_id,
        event_id,
    )


async def written(
    conn: asyncpg.Connection, user_id: str, calendar_id: str, appointment_ids: list[str], event_ids: list[str]
) -> list[Written]:
    """The user's appointments named by our tags, or whose event in this calendar has one of these ids."""
    rows = await conn.fetch(
        "SELECT appointment_id, calendar_id, event_id, version, cancelled, payload FROM appointments"
        " WHERE owner_user_id = $1 AND (appointment_id = ANY($3) OR (calendar_id = $2 AND event_id = ANY($4)))",
        user_id,
        calendar_id,
        appointment_ids,
        event_ids,
    )
    return [_written(row) for row in rows]


def _written(row: asyncpg.Record) -> Written:
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    if not row["cancelled"]:
        body = m.AppointmentUpdated.model_validate(row["payload"])
        start, end = mapping.event_time(body.start), mapping.event_time(body.end)
    return Written(
        row["appointment_id"],
        row["calendar_id"],
        row["event_id"],
        row["version"],
        row["cancelled"],
        start,
        end,
    )
