"""Read one claimed calendar's changes from Google and say what they mean (docs/sync.md "Changes made
in Google"): jobs claim a due ``calendar_syncs`` row → a token from auth (401: forced refresh) →
``events.list`` with the stored sync token, every page → per page, in one transaction, the known
events and the messages (outbox) → Google's new sync token with the last page. Without a token, or
after 410 ``fullSyncRequired`` (on any page), a full list from ``full_sync_past`` ago; known events
it lacks were deleted. Google is called outside any transaction; the lease keeps others away."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from services.sync.adapters import calendar_syncs, known_events
from services.sync.adapters.auth_tokens import AuthTokens
from services.sync.adapters.google_calendar import EventReader
from services.sync.adapters.metrics import SyncMetrics
from services.sync.config import InboundConfig
from services.sync.domain import event_ids, inbound
from services.sync.usecases.authorised import NoToken, authorised
from shared.clock import Clock
from shared.db import transaction
from shared.google.calendar import GoogleApiError, GoogleTransportError, classify, is_retryable
from shared.outbox import Outbox

log = structlog.get_logger(__name__)

JITTER = 0.1  # the safety net's next run is ±10 % off its interval, so calendars do not poll in step


class LeaseLost(Exception):
    """The run took longer than its lease and another replica took the calendar over."""


@dataclass(frozen=True)
class InboundDeps:
    pool: asyncpg.Pool
    tokens: AuthTokens
    google: EventReader
    clock: Clock
    config: InboundConfig
    source_tag: str  # our private tag's source: events carrying it are ours
    outbox: Outbox
    metrics: SyncMetrics
    owner: str  # this replica's lease name
    jitter: Callable[[], float] = field(default=random.random)  # uniform in [0, 1)


@dataclass(frozen=True)
class _Run:
    user_id: str
    calendar_id: str
    full: bool
    window_start: datetime | None = None


def next_safety_net(deps: InboundDeps, now: datetime) -> datetime:
    spread = 1 + JITTER * (2 * deps.jitter() - 1)
    return now + timedelta(seconds=deps.config.safety_net.total_seconds() * spread)


async def sync(deps: InboundDeps, row: asyncpg.Record) -> None:
    """Bring what sync knows of the claimed calendar up to Google's, and settle the claim."""
    user_id, calendar_id = row["user_id"], row["calendar_id"]
    try:
        changes, full = await authorised(deps.tokens, user_id, lambda token: _list(deps, row, token))
    except NoToken as exc:
        deps.metrics.inbound_runs.labels("no_token").inc()
        retry = exc.status not in ("disconnected", "no_grant")  # those wait for the grant's events
        await _release(deps, row, retry=retry, error=f"auth answered {exc.status}")
        return
    except LeaseLost:
        deps.metrics.inbound_runs.labels("lease_lost").inc()
        log.warning("calendar_sync_lease_lost", user_id=user_id, calendar_id=calendar_id)
        return
    except (GoogleApiError, GoogleTransportError) as exc:
        deps.metrics.inbound_runs.labels("google_error").inc()
        deps.metrics.google_errors.labels(classify(exc)).inc()
        await _release(deps, row, retry=is_retryable(exc), error=str(exc))
        return
    deps.metrics.inbound_runs.labels("full" if full else "incremental").inc()
    if changes and row["was"] == "idle" and row["sync_token"] is not None:
        deps.metrics.missed_pushes.inc()
        log.warning("channel_missed_pushes", user_id=user_id, calendar_id=calendar_id, changes=changes)
    log.info("calendar_synced", user_id=user_id, calendar_id=calendar_id, full=full, changes=changes)


async def _list(deps: InboundDeps, row: asyncpg.Record, token: str) -> tuple[int, bool]:
    """(changes announced, whether a full list was needed)."""
    user_id, calendar_id = row["user_id"], row["calendar_id"]
    if row["sync_token"] is not None:
        try:
            return await _pages(deps, _Run(user_id, calendar_id, full=False), token, row["sync_token"]), False
        except GoogleApiError as err:
            if classify(err) != "sync_token_invalid":
                raise
            log.info("full_sync_required", user_id=user_id, calendar_id=calendar_id)
    window_start = deps.clock.now() - deps.config.full_sync_past
    return await _pages(deps, _Run(user_id, calendar_id, True, window_start), token, None), True


async def _pages(deps: InboundDeps, run: _Run, token: str, sync_token: str | None) -> int:
    """Apply every page; the new sync token is stored with the last one only."""
    time_min = run.window_start.isoformat() if run.window_start else None
    listed: set[str] = set()
    changes = 0
    async for page in deps.google.pages(token, run.calendar_id, sync_token=sync_token, time_min=time_min):
        changes += await _page(deps, run, page, listed)
    return changes


async def _page(deps: InboundDeps, run: _Run, page: dict[str, Any], listed: set[str]) -> int:
    """One page in one transaction, with the lease kept; the last page settles the run."""
    items = [
        inbound.seen(item, deps.source_tag)
        for item in page.get("items") or []
        if item.get("id") and not event_ids.is_probe(str(item["id"]))  # a connection test's, gone again
    ]
    listed.update(event.event_id for event in items)
    zone = page.get("timeZone")
    async with transaction(deps.pool) as conn:
        now = deps.clock.now()
        if not await calendar_syncs.extend(
            conn, run.user_id, run.calendar_id, deps.owner, now + deps.config.lease
        ):
            raise LeaseLost(run.calendar_id)  # another replica runs it now; this page is rolled back
        changes = await _apply(deps, conn, run, items, zone)
        if page.get("nextPageToken") is None:
            if run.full:
                changes += await _vanished(deps, conn, run, listed, zone)
            await calendar_syncs.finish(
                conn, run.user_id, run.calendar_id, deps.owner, now, next_safety_net(deps, now),
                page.get("nextSyncToken"), now + deps.config.follow_up_after,
            )  # fmt: skip
    return changes


async def _apply(
    deps: InboundDeps, conn: asyncpg.Connection, run: _Run, items: list[inbound.Seen], zone: str | None
) -> int:
    """Record one page and queue its messages; returns how many events changed."""
    if not items:
        return 0
    ids = [event.event_id for event in items]
    known = await known_events.known(conn, run.user_id, run.calendar_id, ids)
    appointment_ids = [a for e in items if (a := e.appointment_id or _known_appointment(known, e))]
    written = await known_events.written(conn, run.user_id, run.calendar_id, appointment_ids, ids)
    changes = 0
    for event in items:
        changes += await _one(
            deps, conn, run, event, known.get(event.event_id), _of(written, event, known), zone
        )
    return changes


def _known_appointment(known: dict[str, inbound.Known], event: inbound.Seen) -> str | None:
    entry = known.get(event.event_id)
    return entry.appointment_id if entry else None


def _of(
    written: list[inbound.Written], event: inbound.Seen, known: dict[str, inbound.Known]
) -> inbound.Written | None:
    """The appointment of ``event``: by our tag, by the last sync's record, else by its event id."""
    wanted = event.appointment_id or _known_appointment(known, event)
    matches = [w for w in written if w.appointment_id == wanted] or [
        w for w in written if w.event_id == event.event_id
    ]
    return matches[0] if matches else None


async def _one(
    deps: InboundDeps,
    conn: asyncpg.Connection,
    run: _Run,
    event: inbound.Seen,
    known: inbound.Known | None,
    written: inbound.Written | None,
    zone: str | None,
) -> int:
    what = inbound.meaning(event, known, written, run.calendar_id)
    for message in inbound.messages(run.user_id, run.calendar_id, event, what, zone):
        await deps.outbox.add(conn, message)
    if what.remember:
        await known_events.remember(
            conn, run.user_id, run.calendar_id, inbound.remembered(event, what.appointment_id)
        )
    elif known is not None:
        await known_events.forget(conn, run.user_id, run.calendar_id, event.event_id)
    if what.external is not None:
        log.info(
            "external_change", user_id=run.user_id, appointment_id=what.appointment_id, change=what.external
        )
    return int(what.announce is not None)


async def _vanished(
    deps: InboundDeps, conn: asyncpg.Connection, run: _Run, listed: set[str], zone: str | None
) -> int:
    """After a full list: known events within its window that it did not show were deleted."""
    assert run.window_start is not None
    known = await known_events.known(conn, run.user_id, run.calendar_id)
    gone = [inbound.vanished(k) for k in inbound.missing(list(known.values()), listed, run.window_start)]
    return await _apply(deps, conn, run, gone, zone)


async def _release(deps: InboundDeps, row: asyncpg.Record, *, retry: bool, error: str) -> None:
    now = deps.clock.now()
    due = now + deps.config.retry_in if retry else next_safety_net(deps, now)
    await calendar_syncs.release(deps.pool, row["user_id"], row["calendar_id"], deps.owner, due)
    log.info("calendar_sync_deferred", user_id=row["user_id"], calendar_id=row["calendar_id"],
             error=error, due_at=due.isoformat())  # fmt: skip


async def purge(deps: InboundDeps) -> None:
    """The hourly clean-up of inbound state (``calendar_syncs.purge``): known events are kept for
    the full list's window and a day more."""
    ended_before = deps.clock.now() - deps.config.full_sync_past - timedelta(days=1)
    calendars, events = await calendar_syncs.purge(deps.pool, ended_before)
    if calendars or events:
        log.info("inbound_state_purged", calendars=calendars, known_events=events)
