"""The disconnect circuit breaker's operator use cases, behind ``/api/v1/breaker`` (api_handlers) and the
command ``python -m services.auth.breaker status|reset``.

Reset closes the open circuit_open incident, starts a fresh counting window and makes every held grant
due at once; their next refresh decides (disconnect if still dead, grant.connected if recovered).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import asyncpg

from services.auth import refresh_repository as repo
from shared import messages as m
from shared import outbox
from shared.clock import SystemClock
from shared.config import DEFAULT_DATABASE_URL, Env


async def reset(conn: asyncpg.Connection, now: datetime) -> str | None:
    """Close the breaker (in the caller's transaction); returns the closed incident id, if any.

    Locks in the same order as a refresh that finds a dead grant (grant row, then breaker row), so a
    reset never deadlocks with one: held grants are made due first, without the breaker row; then,
    holding it, grants held in between are made due too (those being refreshed right now are skipped:
    their refresh judges them in the fresh window once this commits).
    """
    await repo.retry_held_grants(conn, now)
    await repo.lock_breaker(conn)
    closed = await repo.close_incident(conn, "circuit_open", now)
    await repo.set_breaker_reset(conn, now)
    await repo.retry_held_grants(conn, now, skip_locked=True)
    if closed is not None:
        await outbox.add(
            conn,
            m.OperatorAlert(incident_id=closed, kind="circuit_closed", detail="reset by operator"),
            occurred_at=now,
        )
    return closed


async def status(conn: asyncpg.Connection) -> dict[str, object]:
    incident = await repo.open_incident_id(conn, "circuit_open")
    held = await repo.held_grants_count(conn)
    return {"open": incident is not None, "incident_id": incident, "held_grants": held}


async def reset_and_report(conn: asyncpg.Connection, now: datetime) -> dict[str, object]:
    """An operator's reset in its own transaction, then the state afterwards (``closed_incident``: the
    incident it closed, if one was open). The caller wakes the outbox relay."""
    async with conn.transaction():
        closed = await reset(conn, now)
    return {"closed_incident": closed, **(await status(conn))}


async def _main(command: str) -> int:
    dsn = Env().text("DATABASE_URL", DEFAULT_DATABASE_URL)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "auth", "timezone": "UTC"})
    try:
        if command == "reset":
            result = await reset_and_report(conn, SystemClock().now())
            closed = result["closed_incident"]
            print(f"breaker closed (incident {closed})" if closed else "breaker was not open; window reset")
            print(result)
        else:
            print(await status(conn))
    finally:
        await conn.close()
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args not in (["reset"], ["status"]):
        print("usage: python -m services.auth.breaker status|reset", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(_main(args[0])))
