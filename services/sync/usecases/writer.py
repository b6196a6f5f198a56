"""Write one claimed appointment to Google and record the outcome: synced at version N, waiting
(with the reason and, for Google's limits, a backoff due time), or failed with Google's reason.
Google is called outside any database transaction; the claim's lease keeps others away."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from services.sync.adapters import repository, user_state
from services.sync.adapters.auth_tokens import AuthTokens
from services.sync.adapters.google_calendar import EventWriter
from services.sync.adapters.metrics import SyncMetrics
from services.sync.config import WriterConfig
from services.sync.domain import failures, mapping, write_plan
from services.sync.usecases import google_steps
from services.sync.usecases.authorised import NoToken, authorised
from shared import messages as m
from shared.clock import Clock
from shared.db import transaction
from shared.google.calendar import GoogleApiError, GoogleTransportError, classify
from shared.outbox import Outbox

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WriterDeps:
    pool: asyncpg.Pool
    tokens: AuthTokens
    google: EventWriter
    clock: Clock
    config: WriterConfig
    rules: mapping.MappingRules
    outbox: Outbox
    metrics: SyncMetrics
    owner: str  # this replica's claim name
    jitter: Callable[[], float] = field(default=random.random)


def stored(row: asyncpg.Record) -> write_plan.Stored:
    return write_plan.Stored(
        row["appointment_id"], row["version"], row["cancelled"], row["ends_at"],
        row["calendar_id"], row["event_id"], row["generation"], row["etag"],
    )  # fmt: skip


async def write(deps: WriterDeps, row: asyncpg.Record) -> None:
    """Bring Google to the claimed row's version and settle the claim."""
    state = stored(row)
    action = write_plan.action(state, deps.clock.now(), deps.config.replay_past)
    if action == "skip":
        note = f"ended more than {deps.config.replay_past.days} days before it could be written"
        await _settle(deps, row, state="skipped", note=note)
        deps.metrics.writes.labels("skipped").inc()
        return
    try:
        written = await _perform(deps, row, state, action)
    except NoToken as exc:
        deps.metrics.writes.labels("no_token").inc()
        await _without_token(deps, row, exc)
    except (GoogleApiError, GoogleTransportError, google_steps.TooManySteps) as exc:
        await _google_failed(deps, row, exc)
    else:
        deps.metrics.writes.labels("synced").inc()
        await _synced(deps, row, written.target if written else None, written.note if written else None)


async def _perform(
    deps: WriterDeps, row: asyncpg.Record, state: write_plan.Stored, action: write_plan.Action
) -> google_steps.Written | None:
    """The Google side of ``action``; the written event (None when no event is left)."""
    user_id = row["owner_user_id"]
    if action == "nothing":
        return None
    if action == "delete":
        calendar_id, event_id = state.calendar_id, state.event_id
        assert calendar_id is not None and event_id is not None
        await authorised(
            deps.tokens, user_id, lambda token: google_steps.delete(deps.google, token, calendar_id, event_id)
        )
        return None
    written = await authorised(deps.tokens, user_id, lambda token: _upsert(deps, row, token))
    if state.event_id is not None and state.calendar_id not in (None, written.target.calendar_id):
        await _remove_moved(deps, user_id, state.calendar_id, state.event_id)
    return written


async def _remove_moved(deps: WriterDeps, user_id: str, calendar_id: str | None, event_id: str) -> None:
    """The appointment moved to another calendar: remove its old event (best effort: the old
    calendar may belong to a previous Google account)."""
    assert calendar_id is not None
    try:
        await authorised(
            deps.tokens, user_id, lambda token: google_steps.delete(deps.google, token, calendar_id, event_id)
        )
    except (GoogleApiError, GoogleTransportError, NoToken) as exc:
        log.info("moved_event_left_behind", calendar_id=calendar_id, event_id=event_id, error=str(exc))


async def _upsert(deps: WriterDeps, row: asyncpg.Record, token: str) -> google_steps.Written:
    appointment = m.AppointmentUpdated.model_validate(row["payload"])  # created and updated alike
    target = write_plan.target(stored(row), row["user_calendar"])

    async def remember(new: write_plan.Target) -> None:
        await repository.assign_target(deps.pool, row["appointment_id"], deps.owner, new)

    if (target.event_id, target.calendar_id) != (row["event_id"], row["calendar_id"]):
        await remember(target)
    steps = google_steps.Steps(deps.google, token, deps.rules, remember)
    return await google_steps.upsert(steps, appointment, target)


async def _synced(
    deps: WriterDeps, row: asyncpg.Record, target: write_plan.Target | None, note: str | None
) -> None:
    now, user_id = deps.clock.now(), row["owner_user_id"]
    async with transaction(deps.pool) as conn:
        if target is not None:
            await repository.record_target(conn, row["appointment_id"], deps.owner, target, note)
        await repository.settle_synced(conn, row["appointment_id"], deps.owner, row["version"], now)
        await user_state.note_user_outcome(conn, user_id, now, None)
        if target is not None and await user_state.close_problem_episode(conn, user_id):
            await deps.outbox.add(conn, m.CalendarSelected(user_id=user_id, calendar_id=target.calendar_id))
            log.info("calendar_problem_resolved", user_id=user_id, calendar_id=target.calendar_id)
    log.info(
        "appointment_synced",
        appointment_id=row["appointment_id"],
        version=row["version"],
        event_id=target.event_id if target else None,
        note=note,
    )


async def _settle(deps: WriterDeps, row: asyncpg.Record, **changes: Any) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        await repository.settle(conn, row["appointment_id"], deps.owner, changes)


async def _retry_later(
    deps: WriterDeps, row: asyncpg.Record, reason: str, error: str, *, kind: str, retry_after: float | None
) -> None:
    now = deps.clock.now()
    due = deps.config.backoff.due(now, row["attempts"], deps.jitter(), kind=kind, retry_after=retry_after)
    async with deps.pool.acquire() as conn, conn.transaction():
        changes = {"attempts": row["attempts"] + 1, "due_at": due, "wait_reason": reason, "last_error": error}
        await repository.settle(conn, row["appointment_id"], deps.owner, changes)
        await user_state.note_user_outcome(conn, row["owner_user_id"], now, error)
    log.info(
        "appointment_write_deferred",
        appointment_id=row["appointment_id"],
        reason=reason,
        error=error,
        due_at=due.isoformat(),
    )


async def _without_token(deps: WriterDeps, row: asyncpg.Record, exc: NoToken) -> None:
    """Disconnected or no grant: auth publishes the grant event that makes the rows wait; until it
    arrives the row backs off. auth unavailable: back off as auth advises."""
    reason = exc.status if exc.status in ("disconnected", "no_grant") else "auth_unavailable"
    error = f"auth answered {exc.status}" + (f" ({exc.reason})" if exc.reason else "")
    await _retry_later(deps, row, reason, error, kind="token", retry_after=exc.retry_after)


async def _google_failed(deps: WriterDeps, row: asyncpg.Record, exc: Exception) -> None:
    api = exc if isinstance(exc, GoogleApiError) else None
    kind = classify(exc) if not isinstance(exc, google_steps.TooManySteps) else "transient"
    error = failures.describe(api.status if api else None, api.reason if api else None)
    reaction = failures.reaction(kind)
    deps.metrics.google_errors.labels(kind).inc()
    deps.metrics.writes.labels("deferred" if reaction in ("backoff", "refresh_token") else reaction).inc()
    if reaction in ("backoff", "refresh_token"):
        reason = "rate_limited" if kind in ("rate_limit", "quota") else "google_unavailable"
        await _retry_later(deps, row, reason, error, kind=kind, retry_after=api.retry_after if api else None)
    elif reaction == "failed":
        log.error(
            "appointment_rejected_by_google",
            appointment_id=row["appointment_id"],
            error=error,
            body=api.body if api else None,
        )
        await _settle(deps, row, state="failed", last_error=error, wait_reason=None)
        await _note_failure(deps, row, error)
    else:
        await _calendar_problem(deps, row, reaction, error)


async def _note_failure(deps: WriterDeps, row: asyncpg.Record, error: str) -> None:
    async with deps.pool.acquire() as conn:
        await user_state.note_user_outcome(conn, row["owner_user_id"], deps.clock.now(), error)


async def _calendar_problem(deps: WriterDeps, row: asyncpg.Record, problem: str, error: str) -> None:
    """The calendar cannot be written: the user's appointments wait; the notifier is told once."""
    now, user_id, calendar_id = deps.clock.now(), row["owner_user_id"], row["user_calendar"]
    async with transaction(deps.pool) as conn:  # the outbox relay is woken after the commit
        await repository.settle(
            conn, row["appointment_id"], deps.owner, {"wait_reason": problem, "last_error": error}
        )
        await user_state.note_user_outcome(conn, user_id, now, error)
        if await user_state.open_calendar_problem(conn, user_id, problem, calendar_id, now):
            event = m.CalendarProblem.model_validate(
                {"user_id": user_id, "problem": problem, "calendar_id": calendar_id, "since": now}
            )
            await deps.outbox.add(conn, event)
            log.warning("calendar_problem", user_id=user_id, problem=problem, error=error)
