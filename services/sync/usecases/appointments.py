"""Record an appointment change from the bus: the newest version becomes the pending work item
(in the consumer's transaction); the writer takes it from there."""

from __future__ import annotations

from datetime import UTC, datetime, time

import asyncpg
import structlog

from services.sync.adapters import repository
from shared import messages as m
from shared.clock import Clock

log = structlog.get_logger(__name__)

AppointmentChange = m.AppointmentCreated | m.AppointmentUpdated | m.AppointmentCancelled


def _instant(value: m.EventTime) -> datetime:
    """A comparable instant for ordering the replay (all-day: midnight UTC of the date)."""
    if value.date_time is not None:
        return value.date_time.astimezone(UTC)
    assert value.date is not None
    return datetime.combine(value.date, time(0), tzinfo=UTC)


async def record(conn: asyncpg.Connection, change: AppointmentChange, clock: Clock) -> bool:
    """Store the change if it is newer than what we hold; False (and nothing written) if not."""
    timed = isinstance(change, m.AppointmentCreated | m.AppointmentUpdated)
    row = {
        "appointment_id": change.appointment_id,
        "owner_user_id": change.owner_user_id,
        "account_id": change.account_id,
        "version": change.version,
        "cancelled": not timed or getattr(change, "status", None) == "cancelled",
        "starts_at": _instant(change.start) if timed else None,  # type: ignore[union-attr]
        "ends_at": _instant(change.end) if timed else None,  # type: ignore[union-attr]
    }
    stored = await repository.record_change(conn, change.model_dump(mode="json"), row, clock.now())
    if not stored:
        log.info(
            "appointment_change_stale",
            appointment_id=change.appointment_id,
            version=change.version,
            stored_version=await repository.stored_version(conn, change.appointment_id),
        )
        return False
    log.info("appointment_recorded", appointment_id=change.appointment_id, version=change.version)
    return True
