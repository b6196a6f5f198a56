"""A user's destination calendar: Google's ``primary`` alias resolved to the concrete id once the
user connects (docs/google.md §7), or the calendar the user chose (checked for write access); the
user's waiting appointments then become due, upcoming ones move to a newly chosen calendar, and the
calendar's first inbound sync is requested in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from services.sync.adapters import calendar_syncs, repository, user_state
from services.sync.adapters.auth_tokens import AuthTokens
from services.sync.adapters.google_calendar import EventWriter
from services.sync.usecases.authorised import NoToken, authorised
from shared import messages as m
from shared.clock import Clock
from shared.db import after_commit, transaction
from shared.google.calendar import GoogleApiError, GoogleTransportError, classify
from shared.outbox import Outbox

log = structlog.get_logger(__name__)

WRITABLE = ("writer", "owner")


@dataclass(frozen=True)
class ResolveDeps:
    pool: asyncpg.Pool
    tokens: AuthTokens
    google: EventWriter
    clock: Clock
    retry_in: timedelta


async def resolve_due(deps: ResolveDeps) -> int:
    """Resolve every user whose calendar is due for resolution; returns how many got one."""
    now = deps.clock.now()
    resolved = 0
    for user_id in await user_state.claim_unresolved(deps.pool, now, now + deps.retry_in):
        resolved += await _resolve(deps, user_id)
    return resolved


async def _resolve(deps: ResolveDeps, user_id: str) -> int:
    try:
        entry = await authorised(deps.tokens, user_id, lambda token: deps.google.resolve(token, "primary"))
    except NoToken as exc:
        log.info("calendar_not_resolved", user_id=user_id, token=exc.status)
        return 0
    except (GoogleApiError, GoogleTransportError) as exc:
        log.warning("calendar_not_resolved", user_id=user_id, error=str(exc))
        return 0
    calendar_id, now = str(entry["id"]), deps.clock.now()
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await user_state.set_calendar(conn, user_id, calendar_id):
            return 0
        await repository.make_due(conn, user_id, now)
        await calendar_syncs.request(conn, user_id, calendar_id, now, "initial")
    log.info("calendar_resolved", user_id=user_id, calendar_id=calendar_id)
    return 1


@dataclass(frozen=True)
class ChoiceDeps:
    pool: asyncpg.Pool
    tokens: AuthTokens
    google: EventWriter
    clock: Clock
    outbox: Outbox
    wake_writer: Callable[[], None]


class ChoiceRefused(Exception):
    """The calendar cannot be chosen; ``code`` names why (for the HTTP answer)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


async def choose(deps: ChoiceDeps, user_id: str, calendar_id: str) -> str:
    """Make ``calendar_id`` (or ``primary``) the user's destination once Google confirms they may
    write to it; upcoming appointments move there. Returns the concrete calendar id."""
    async with deps.pool.acquire() as conn:
        if not await user_state.is_connected(conn, user_id):
            raise ChoiceRefused("not_connected", "the user has no working Google connection")
    entry = await _entry(deps, user_id, calendar_id)
    if entry.get("accessRole") not in WRITABLE:
        raise ChoiceRefused("not_writable", "the user may not add events to this calendar")
    chosen, now = str(entry["id"]), deps.clock.now()
    async with transaction(deps.pool) as conn:
        if not await user_state.choose_calendar(conn, user_id, chosen):
            raise ChoiceRefused("not_connected", "the user has no working Google connection")
        moved = await repository.requeue_elsewhere(conn, user_id, chosen, now)
        await repository.make_due(conn, user_id, now)
        await calendar_syncs.request(conn, user_id, chosen, now, "initial")
        await deps.outbox.add(conn, m.CalendarSelected(user_id=user_id, calendar_id=chosen))
        after_commit(deps.wake_writer)
    log.info("calendar_chosen", user_id=user_id, calendar_id=chosen, appointments_to_move=moved)
    return chosen


async def _entry(deps: ChoiceDeps, user_id: str, calendar_id: str) -> dict[str, Any]:
    """The user's calendarList entry for ``calendar_id``, or why it cannot be had."""
    try:
        return await authorised(deps.tokens, user_id, lambda token: deps.google.resolve(token, calendar_id))
    except NoToken as exc:
        raise ChoiceRefused("not_connected", f"no Google access ({exc.status})") from None
    except (GoogleApiError, GoogleTransportError) as exc:
        kind = classify(exc)
        if kind == "not_found":
            raise ChoiceRefused("unknown_calendar", "the user has no such calendar") from None
        raise ChoiceRefused("google_unavailable", f"Google could not confirm the calendar ({kind})") from None
