"""What auth's grant events change for sync: whether the user's appointments may be written, the
destination calendar, the backfill request on a first connection or a new Google account, and the
user's watch channels (stopped here only when the grant is dead; handed to the channel keeper to be
stopped at Google when it was deleted)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import structlog

from services.sync.adapters import calendar_syncs, channels, repository, user_state
from shared import messages as m
from shared.clock import Clock
from shared.outbox import Outbox

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class GrantDeps:
    clock: Clock
    outbox: Outbox


async def connected(conn: asyncpg.Connection, event: m.GrantConnected, deps: GrantDeps) -> None:
    """Writing may resume: waiting appointments become due (upcoming first, by the claim order),
    and the user's calendars are read from Google at once (changes made meanwhile, or a first read
    the disconnection cut short, which also holds back the calendar's watch channel)."""
    now = deps.clock.now()
    if not await user_state.set_grant_state(conn, event.user_id, "connected", None, event.occurred_at):
        return
    await user_state.set_grant_id(conn, event.user_id, event.grant_id)
    if event.account_changed:
        await user_state.reset_destination(conn, event.user_id, now)
        moved = await repository.requeue_upcoming(conn, event.user_id, now)
        log.info("google_account_changed", user_id=event.user_id, upcoming_to_move=moved)
    else:
        await user_state.clear_calendar_problem(conn, event.user_id)
        await user_state.resolve_soon(conn, event.user_id, now)
    await repository.make_due(conn, event.user_id, now)
    await calendar_syncs.due_now(conn, event.user_id, now)
    if event.cause == "connected" or event.account_changed:
        request = m.AppointmentsBackfillRequested(user_id=event.user_id, since=now)
        await deps.outbox.add(conn, request)
        log.info("backfill_requested", user_id=event.user_id)


async def paused(
    conn: asyncpg.Connection, event: m.GrantDisconnected | m.GrantSuspended, deps: GrantDeps
) -> None:
    """Google ended the grant: appointments wait (not claimable) until the user reconnects. Its
    channels cannot be stopped without a working token: their pushes are ignored until they lapse."""
    if not await user_state.set_grant_state(
        conn, event.user_id, "disconnected", event.reason, event.occurred_at
    ):
        return
    stopped = await channels.stop_locally(conn, event.user_id, deps.clock.now(), "grant_dead")
    if stopped:
        log.info("channels_stopped_locally", user_id=event.user_id, channels=stopped)


async def deleted(conn: asyncpg.Connection, event: m.GrantDeleted, deps: GrantDeps) -> None:
    """The connection was deleted: nothing more is written; pending work is dropped after the
    retention period; a later connection resolves the calendar again (same account: same ids)."""
    if await user_state.set_grant_state(conn, event.user_id, "deleted", event.cause, event.occurred_at):
        await user_state.reset_destination(conn, event.user_id, deps.clock.now())
    await stop_channels_of_deleted(conn, event, deps)


async def stop_channels_of_deleted(conn: asyncpg.Connection, event: m.GrantDeleted, deps: GrantDeps) -> None:
    """The user's channels are to be stopped with the deleted grant's token by the channel keeper
    (``usecases/channels``), which then tells auth; with none, auth hears at once that it need not
    hold the revocation."""
    marked = await channels.stop_for_deleted_grant(conn, event.user_id, event.grant_id)
    if marked == 0:
        await deps.outbox.add(
            conn, m.ChannelsStopped(user_id=event.user_id, grant_id=event.grant_id, stopped=0)
        )
    log.info("channels_of_deleted_grant", user_id=event.user_id, to_stop=marked)
