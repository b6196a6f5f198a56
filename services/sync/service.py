"""sync's use cases: record appointment changes durably, track grant state, forget deleted users."""

from __future__ import annotations

import asyncpg
import structlog

from services.sync import domain, repository
from shared import messages as m

log = structlog.get_logger(__name__)


async def record_appointment(conn: asyncpg.Connection, change: domain.AppointmentChange) -> bool:
    """Store the newest known state of an appointment; returns False for a stale change."""
    stored = await repository.appointment_version(conn, change.appointment_id)
    if not domain.supersedes(change.version, stored):
        log.info(
            "appointment_change_stale",
            appointment_id=change.appointment_id,
            version=change.version,
            stored_version=stored,
        )
        return False
    await repository.save_appointment(conn, change, cancelled=isinstance(change, m.AppointmentCancelled))
    log.info("appointment_recorded", appointment_id=change.appointment_id, version=change.version)
    return True


async def record_grant_event(conn: asyncpg.Connection, event: m.Message) -> None:
    state = domain.grant_state(event)
    if state is not None and isinstance(
        event, m.GrantConnected | m.GrantDisconnected | m.GrantSuspended | m.GrantDeleted
    ):
        await repository.set_grant_state(conn, event.user_id, state[0], state[1], event.occurred_at)


async def forget_user(conn: asyncpg.Connection, user_id: str) -> None:
    await repository.forget_user(conn, user_id)
    log.info("user_forgotten", user_id=user_id)
