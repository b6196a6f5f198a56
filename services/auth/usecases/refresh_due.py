"""Refresh what is due, for the scheduler (entrypoints/jobs.py): claim a batch of due grants in one
transaction (``FOR UPDATE SKIP LOCKED``, so replicas share the work and the row locks keep single-flight
with token requests), call Google for them concurrently under a slot limit shared by all lanes, and
apply each attempt's decision (domain/refresh_decision.py) in its own savepoint.

``fetch`` and ``record`` are the two halves of one attempt, shared with answer_token_request.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import structlog

from services.auth.adapters import refresh_repository
from services.auth.adapters.crypto import DecryptionError, token_hash, token_prefix_hash
from services.auth.domain import refresh_decision, refresh_rules
from services.auth.domain.model import RefreshGrant
from services.auth.domain.oauth_types import TokenResponse
from services.auth.domain.refresh_decision import FailureClass, RefreshDecision, Verdict
from services.auth.usecases.deps import RefreshDeps
from shared import messages as m
from shared.db import after_commit, transaction

log = structlog.get_logger(__name__)

REFRESH_FIELD = "refresh_token"
ACCESS_FIELD = "access_token"


def lane_size(settings: refresh_rules.RefreshSettings) -> int:
    """Grants per batch: enough to keep the slots busy, few enough that a token request for a claimed
    grant (it waits for the batch to commit) waits about two token-endpoint round trips."""
    return max(1, min(settings.batch_size, 2 * settings.concurrency))


async def refresh_due(deps: RefreshDeps, slots: asyncio.Semaphore, size: int) -> int:
    """Claim up to ``size`` due grants and refresh them; returns how many were claimed. One grant's
    trouble never undoes the others: each outcome is written in its own savepoint."""
    now = deps.clock.now()
    lease_until = now + timedelta(seconds=deps.settings.claim_lease)
    async with transaction(deps.pool) as conn:
        grants = await refresh_repository.claim_due(conn, now, lease_until, size)
        if grants:  # the grants' events are written by other tasks: wake the relay once this commits
            after_commit(deps.outbox.wake)
        writing = asyncio.Lock()  # one connection: results are written one at a time
        results = await asyncio.gather(
            *(_refresh_one(deps, conn, writing, slots, grant) for grant in grants), return_exceptions=True
        )
        for grant, result in zip(grants, results, strict=True):
            if isinstance(result, BaseException):  # not expected: _refresh_one keeps its own failures
                log.error("refresh_grant_crashed", grant_id=grant.grant.grant_id, error=type(result).__name__)
    return len(grants)


async def _refresh_one(
    deps: RefreshDeps,
    conn: asyncpg.Connection,
    writing: asyncio.Lock,
    slots: asyncio.Semaphore,
    grant: RefreshGrant,
) -> None:
    row = grant.grant
    now = deps.clock.now()
    fresh = not refresh_rules.needs_refresh(
        now=now,
        access_expires_at=row.access_expires_at,
        last_refreshed_at=row.last_refreshed_at,
        s=deps.settings,
    )
    if (fresh and not grant.pending_verdict) or row.refresh_token_enc is None:  # a held grant is re-judged
        async with writing:
            await _reschedule(deps, conn, grant, now)
        return
    async with slots:
        started = deps.clock.now()
        result = await fetch(deps, grant)  # never raises: a failure comes back as a value
    async with writing:
        await _write(deps, conn, grant, result, started)


async def _reschedule(
    deps: RefreshDeps, conn: asyncpg.Connection, grant: RefreshGrant, now: datetime
) -> None:
    """A claimed grant that needs no call to Google gets its real next due time back (not the claim's
    lease) and no backoff: a forced refresh may try again at once."""
    row = grant.grant
    due = refresh_rules.due_after_skip(
        now=now,
        access_expires_at=row.access_expires_at,
        last_refreshed_at=row.last_refreshed_at,
        last_used_at=grant.last_used_at,
        s=deps.settings,
        u=deps.jitter(),
    )
    try:
        async with conn.transaction():
            await refresh_repository.reschedule(conn, row.grant_id, next_refresh_at=due)
    except (asyncpg.PostgresError, OSError):  # the lease keeps the grant from being claimed again at once
        log.exception("refresh_reschedule_failed", grant_id=row.grant_id)


async def _write(
    deps: RefreshDeps,
    conn: asyncpg.Connection,
    grant: RefreshGrant,
    result: TokenResponse | Exception,
    started: datetime,
) -> None:
    """Record the outcome in a savepoint; if that fails, record the failure instead (backoff). If even
    that fails, the claim's lease keeps the grant from being claimed again at once."""
    try:
        async with conn.transaction():
            await record(deps, conn, grant, result, started)
        return
    except Exception as exc:  # any failure to write becomes the attempt's failure
        log.exception("refresh_write_failed", grant_id=grant.grant.grant_id)
        failure = exc
    try:
        async with conn.transaction():
            await record(deps, conn, grant, failure, started)
    except Exception:  # the lease keeps the grant from being claimed again at once
        log.exception("refresh_failure_write_failed", grant_id=grant.grant.grant_id)


async def fetch(deps: RefreshDeps, grant: RefreshGrant) -> TokenResponse | Exception:
    """The call to Google's token endpoint (no database work): a response, or any failure as a value
    (Google's, the network's, or our own, e.g. a refresh token that no configured key opens)."""
    row = grant.grant
    try:
        assert row.refresh_token_enc is not None
        refresh_token = deps.cipher.open_field(row.grant_id, REFRESH_FIELD, row.refresh_token_enc)
        return await deps.google.refresh(refresh_token)
    except Exception as exc:  # noqa: BLE001 - every failure is a value, judged by refresh_decision.classify
        return exc


async def record(
    deps: RefreshDeps,
    conn: asyncpg.Connection,
    grant: RefreshGrant,
    result: TokenResponse | Exception,
    now: datetime,
) -> RefreshDecision:
    """Decide what the attempt (started at ``now``) means and apply it in the caller's transaction."""
    attempt: TokenResponse | Verdict
    if isinstance(result, TokenResponse):
        attempt = result
    else:
        expiry = grant.grant.refresh_token_expires_at
        attempt = refresh_decision.classify(result, refresh_token_expires_at=expiry, now=now)
        _log_failure(grant.grant.grant_id, attempt, result)
    breaker = await _breaker_window(deps, conn, now) if refresh_decision.consults_breaker(attempt) else None
    decision = refresh_decision.decide(
        grant, attempt, now=now, settings=deps.settings, jitter=deps.jitter(), breaker=breaker
    )
    await _apply(deps, conn, grant, decision, result, now)
    deps.metrics.refreshes.labels("ok" if decision.state == "refreshed" else decision.answer.outcome).inc()
    if decision.state == "refreshed":
        deps.metrics.lead.observe(decision.lead)
    return decision


async def _breaker_window(
    deps: RefreshDeps, conn: asyncpg.Connection, now: datetime
) -> refresh_decision.BreakerWindow:
    """Lock the breaker row (after the grant's: the reset takes them in that order) and read it."""
    reset_at = await refresh_repository.lock_breaker(conn)
    since = refresh_rules.breaker_since(now, reset_at, deps.settings)
    if await refresh_repository.open_incident_id(conn, "circuit_open") is not None:
        return refresh_decision.BreakerWindow(open=True, since=since, dead=0, attempted=0)
    dead, attempted = await refresh_repository.window_counts(conn, since)
    return refresh_decision.BreakerWindow(open=False, since=since, dead=dead, attempted=attempted)


async def _apply(
    deps: RefreshDeps,
    conn: asyncpg.Connection,
    grant: RefreshGrant,
    decision: RefreshDecision,
    result: TokenResponse | Exception,
    now: datetime,
) -> None:
    row = grant.grant
    assert decision.next_refresh_at is not None or decision.state == "disconnected"
    if isinstance(result, TokenResponse):
        await _save_tokens(deps, conn, grant, result, decision, now)
    elif decision.state == "disconnected":
        assert decision.reason is not None
        await refresh_repository.disconnect(
            conn, row.grant_id, reason=decision.reason, detected_by="refresh", now=now
        )
        log.info("grant_disconnected", grant_id=row.grant_id, reason=decision.reason, detected_by="refresh")
    elif decision.state == "held":
        assert decision.reason is not None and decision.next_refresh_at is not None
        await refresh_repository.hold_verdict(
            conn, row.grant_id, reason=decision.reason, now=now, next_refresh_at=decision.next_refresh_at
        )
        error = decision.verdict.error if decision.verdict else None
        log.error("disconnect_held_by_breaker", grant_id=row.grant_id, reason=decision.reason, error=error)
    else:
        assert decision.next_refresh_at is not None
        await refresh_repository.save_failure(
            conn, row.grant_id, failures=decision.failures, next_refresh_at=decision.next_refresh_at, now=now
        )
    if decision.incident is not None:
        await open_incident(deps, conn, decision.incident, now)
    for event in decision.events:
        await deps.outbox.add(conn, event)


async def _save_tokens(
    deps: RefreshDeps,
    conn: asyncpg.Connection,
    grant: RefreshGrant,
    tokens: TokenResponse,
    decision: RefreshDecision,
    now: datetime,
) -> None:
    """Store the new access token (and a rotated refresh token), sealed; a held verdict and an
    app-wide incident end with a working refresh."""
    grant_id = grant.grant.grant_id
    rotated = tokens.refresh_token or None
    assert decision.next_refresh_at is not None
    refreshed = refresh_repository.Refreshed(
        access_token_enc=deps.cipher.seal_field(grant_id, ACCESS_FIELD, tokens.access_token),
        access_expires_at=tokens.expires_at(now),
        refresh_token_enc=deps.cipher.seal_field(grant_id, REFRESH_FIELD, rotated) if rotated else None,
        token_hash=token_hash(rotated) if rotated else None,
        token_prefix_hash=token_prefix_hash(rotated) if rotated else None,
        refresh_token_expires_at=tokens.refresh_token_expires_at(now),
        last_used_at=grant.last_used_at,
        next_refresh_at=decision.next_refresh_at,
    )
    await refresh_repository.save_refreshed(conn, grant_id, refreshed, now)
    if rotated:
        log.info("refresh_token_rotated", grant_id=grant_id)
    if decision.events:
        log.info("grant_recovered", grant_id=grant_id)
    closed = await refresh_repository.close_incident(conn, "app_config", now)  # the table decides
    if closed is not None:
        log.info("incident_closed", kind="app_config", incident_id=closed)


async def open_incident(
    deps: RefreshDeps, conn: asyncpg.Connection, incident: refresh_decision.Incident, now: datetime
) -> None:
    """Open an incident and send one OperatorAlert for it (nothing when one is already open)."""
    kind, error, detail = incident.kind, incident.error, incident.detail
    incident_id = await refresh_repository.open_incident(conn, kind, error=error, detail=detail, now=now)
    if incident_id is None:
        return
    deps.metrics.alerts.labels(kind).inc()
    log.error("operator_alert", kind=kind, incident_id=incident_id, error=error, detail=detail)
    alert = m.OperatorAlert(incident_id=incident_id, kind=kind, error=error, detail=detail)  # type: ignore[arg-type]
    await deps.outbox.add(conn, alert)


def _log_failure(grant_id: str, verdict: Verdict, exc: Exception) -> None:
    if verdict.failure is FailureClass.INTERNAL:  # e.g. a refresh token sealed under a removed key
        detail = str(exc) if isinstance(exc, DecryptionError) else None  # other texts may carry data
        log.error("refresh_internal_error", grant_id=grant_id, error=verdict.error, detail=detail)
        return
    log.warning(
        "refresh_failed",
        grant_id=grant_id,
        failure=verdict.failure.value,
        error=verdict.error,
        description=getattr(exc, "description", None),
    )
