"""An operator forces an inbound sync of a user's destination calendar now (the operator CLI's
``calsync resync``): the request is coalesced like a push's (adapters/calendar_syncs.py), and the
inbound workers pick it up on their next poll."""

from __future__ import annotations

import asyncpg
import structlog

from services.sync.adapters import calendar_syncs, user_state
from shared.clock import Clock

log = structlog.get_logger(__name__)


class ResyncRefused(Exception):
    """No sync can be asked for; ``code`` names why (for the HTTP answer)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


async def request(pool: asyncpg.Pool, clock: Clock, user_id: str) -> str:
    """Make the user's calendar due for an inbound sync now; returns the calendar's id."""
    async with pool.acquire() as conn:
        row = await user_state.destination(conn, user_id)
        if row is None:
            raise ResyncRefused("unknown_user", "sync has not heard of this user")
        if row["state"] != "connected":
            raise ResyncRefused("not_connected", f"the Google connection is {row['state']}")
        if row["calendar_id"] is None:
            raise ResyncRefused("no_calendar", "the destination calendar is not resolved yet")
        await calendar_syncs.request(conn, user_id, row["calendar_id"], clock.now(), "operator")
    log.info("resync_requested", user_id=user_id, calendar_id=row["calendar_id"])
    return str(row["calendar_id"])
