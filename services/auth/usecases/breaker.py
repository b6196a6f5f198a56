"""The disconnect circuit breaker's operator use cases, behind ``/api/v1/breaker`` (entrypoints/api_handlers)
and the command ``python -m services.auth.entrypoints.breaker_command status|reset``.

Reset closes the open circuit_open incident, starts a fresh counting window and makes every held grant
due at once; their next refresh decides (disconnect if still dead, grant.connected if recovered).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.auth.adapters import refresh_repository
from shared import messages as m
from shared.db import transaction
from shared.outbox import Outbox


async def reset(conn: asyncpg.Connection, outbox: Outbox, now: datetime) -> str | None:
    """Close the breaker (in the caller's transaction); returns the closed incident id, if any.

    Locks in the same order as a refresh that finds a dead grant (grant row, then breaker row), so a
    reset never deadlocks with one: held grants are made due first, without the breaker row; then,
    holding it, grants held in between are made due too (those being refreshed right now are skipped:
    their refresh judges them in the fresh window once this commits).
    """
    await refresh_repository.retry_held_grants(conn, now)
    await refresh_repository.lock_breaker(conn)
    closed = await refresh_repository.close_incident(conn, "circuit_open", now)
    await refresh_repository.set_breaker_reset(conn, now)
    await refresh_repository.retry_held_grants(conn, now, skip_locked=True)
    if closed is not None:
        alert = m.OperatorAlert(incident_id=closed, kind="circuit_closed", detail="reset by operator")
        await outbox.add(conn, alert)
    return closed


async def status(conn: asyncpg.Connection) -> dict[str, object]:
    incident = await refresh_repository.open_incident_id(conn, "circuit_open")
    held = await refresh_repository.held_grants_count(conn)
    return {"open": incident is not None, "incident_id": incident, "held_grants": held}


async def reset_and_report(pool: asyncpg.Pool, outbox: Outbox, now: datetime) -> dict[str, object]:
    """An operator's reset in its own transaction (the relay is woken once it commits), then the state
    afterwards (``closed_incident``: the incident it closed, if one was open)."""
    async with transaction(pool) as conn:
        closed = await reset(conn, outbox, now)
    async with pool.acquire() as conn:
        return {"closed_incident": closed, **(await status(conn))}
