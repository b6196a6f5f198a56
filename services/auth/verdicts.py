"""What auth does after a refresh: dead grants are disconnected (unless the circuit breaker holds
them), transient failures back off, app-wide failures alert operators once; success clears it all.
Runs inside the refresh transaction, so state and outbox event commit together.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import structlog

from services.auth import domain
from services.auth import refresh_repository as repo
from services.auth.crypto import DecryptionError
from services.auth.domain import FailureClass
from shared import messages as m

if TYPE_CHECKING:
    from services.auth.refresh import Refresher, TokenAnswer

log = structlog.get_logger(__name__)


async def on_failure(
    r: Refresher, conn: asyncpg.Connection, g: repo.RefreshGrant, exc: Exception, now: datetime
) -> TokenAnswer:
    from services.auth.refresh import TokenAnswer

    grant = g.grant
    verdict = domain.classify(exc, refresh_token_expires_at=grant.refresh_token_expires_at, now=now)
    _log_failure(grant.grant_id, verdict, exc)
    if verdict.failure is FailureClass.DEAD:
        assert verdict.reason is not None
        return await _dead(r, conn, g, verdict.reason, verdict.error, now)
    failures = grant.refresh_failures + 1
    delay = domain.retry_delay(failures, r.settings, r.rng.random())
    await repo.save_failure(
        conn, grant.grant_id, failures=failures, next_refresh_at=now + timedelta(seconds=delay), now=now
    )
    if verdict.failure is FailureClass.APP_WIDE:
        await raise_incident(r, conn, "app_config", error=verdict.error, detail="token endpoint", now=now)
    return TokenAnswer("temporarily_unavailable", verdict.failure.value, retry_after=delay)


def _log_failure(grant_id: str, verdict: domain.Verdict, exc: Exception) -> None:
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


async def _dead(
    r: Refresher, conn: asyncpg.Connection, g: repo.RefreshGrant, reason: str, error: str, now: datetime
) -> TokenAnswer:
    from services.auth.refresh import TokenAnswer

    grant = g.grant
    if reason != "access_expired" and await _breaker_holds(r, conn, g, now):
        hold_until = now + timedelta(seconds=r.settings.retry_max)
        await repo.hold_verdict(conn, grant.grant_id, reason=reason, now=now, next_refresh_at=hold_until)
        log.error("disconnect_held_by_breaker", grant_id=grant.grant_id, reason=reason, error=error)
        return TokenAnswer("temporarily_unavailable", "pending_verdict", retry_after=r.settings.retry_max)
    await disconnect(r, conn, g, reason=reason, detected_by="refresh", now=now)
    return TokenAnswer("disconnected", "dead", reason=reason)


async def disconnect(
    r: Refresher,
    conn: asyncpg.Connection,
    g: repo.RefreshGrant,
    *,
    reason: str,
    detected_by: str,
    now: datetime,
) -> None:
    """Mark the grant disconnected and announce it (same transaction)."""
    grant = g.grant
    await repo.disconnect(conn, grant.grant_id, reason=reason, detected_by=detected_by, now=now)
    await r.emit(
        conn,
        m.GrantDisconnected(
            user_id=grant.user_id,
            grant_id=grant.grant_id,
            reason=reason,  # type: ignore[arg-type]
            since=now,
            google_email=grant.mailbox,
            detected_by=detected_by,  # type: ignore[arg-type]
        ),
    )
    log.info("grant_disconnected", grant_id=grant.grant_id, reason=reason, detected_by=detected_by)


async def _breaker_holds(r: Refresher, conn: asyncpg.Connection, g: repo.RefreshGrant, now: datetime) -> bool:
    """True when the breaker is open, or opens now because too many grants died in the window."""
    reset_at = await repo.lock_breaker(conn)
    if await repo.open_incident_id(conn, "circuit_open") is not None:
        return True
    since = now - timedelta(seconds=r.settings.breaker_window)
    if reset_at is not None and reset_at > since:
        since = reset_at
    dead, attempted = await repo.window_counts(conn, since)
    seen = g.last_attempt_at is not None and g.last_attempt_at >= since
    dead, attempted = dead + 1, attempted + (0 if seen else 1)
    if not domain.breaker_trips(dead=dead, attempted=attempted, s=r.settings):
        return False
    detail = f"{dead} of {attempted} grants refreshed since {since.isoformat()} were reported dead"
    await raise_incident(r, conn, "circuit_open", error="invalid_grant", detail=detail, now=now)
    return True


async def raise_incident(
    r: Refresher, conn: asyncpg.Connection, kind: str, *, error: str | None, detail: str | None, now: datetime
) -> None:
    """Open an incident and send one OperatorAlert for it (nothing when one is already open)."""
    incident_id = await repo.open_incident(conn, kind, error=error, detail=detail, now=now)
    if incident_id is None:
        return
    r.metrics.alerts.labels(kind).inc()
    log.error("operator_alert", kind=kind, incident_id=incident_id, error=error, detail=detail)
    await r.emit(conn, m.OperatorAlert(incident_id=incident_id, kind=kind, error=error, detail=detail))  # type: ignore[arg-type]


async def on_success(r: Refresher, conn: asyncpg.Connection, g: repo.RefreshGrant, now: datetime) -> None:
    """A working refresh ends a held verdict (grant.connected, recovered) and an app-wide incident."""
    grant = g.grant
    if g.pending_verdict:
        await r.emit(
            conn,
            m.GrantConnected(
                user_id=grant.user_id,
                grant_id=grant.grant_id,
                cause="recovered",
                google_sub=grant.google_sub or "",
                google_email=grant.mailbox,
                scopes=grant.scopes,
            ),
        )
        log.info("grant_recovered", grant_id=grant.grant_id)
    closed = await repo.close_incident(conn, "app_config", now)  # the table decides: any replica, restarts
    if closed is not None:
        log.info("incident_closed", kind="app_config", incident_id=closed)
