"""What auth's grant events change for sync: whether the user's appointments may be written, the
destination calendar, and the backfill request on a first connection or a new Google account."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import structlog

from services.sync.adapters import repository, user_state
from shared import messages as m
from shared.clock import Clock
from shared.outbox import Outbox

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GrantDeps:
    clock: Clock
    outbox: Outbox


async def connected(conn: asyncpg.Connection, event: m.GrantConnected, deps: GrantDeps) -> None:
    """Writing may resume: waiting appointments become due (upcoming first, by the claim order)."""
    now = deps.clock.now()
    if not await user_state.set_grant_state(conn, event.user_id, "connected", None, event.occurred_at):
        return
    if event.account_changed:
        await user_state.reset_destination(conn, event.user_id, now)
        moved = await repository.requeue_upcoming(conn, event.user_id, now)
        log.info("google_account_changed", user_id=event.user_id, upcoming_to_move=moved)
    else:
        await user_state.clear_calendar_problem(conn, event.user_id)
        await user_state.resolve_soon(conn, event.user_id, now)
    await repository.make_due(conn, event.user_id, now)
    if event.cause == "connected" or event.account_changed:
        request = m.AppointmentsBackfillRequested(user_id=event.user_id, since=now)
        await deps.outbox.add(conn, request)
        log.info("backfill_requested", user_id=event.user_id)


async def paused(conn: asyncpg.Connection, event: m.GrantDisconnected | m.GrantSuspended) -> None:
    """Google ended the grant: appointments wait (not claimable) until the user reconnects."""
    await user_state.set_grant_state(conn, event.user_id, "disconnected", event.reason, event.occurred_at)


async def deleted(conn: asyncpg.Connection, event: m.GrantDeleted, deps: GrantDeps) -> None:
    """The connection was deleted: nothing more is written; pending work is dropped after the
    retention period; a later connection resolves the calendar again (same account: same ids)."""
    if await user_state.set_grant_state(conn, event.user_id, "deleted", event.cause, event.occurred_at):
        await user_state.reset_destination(conn, event.user_id, deps.clock.now())
