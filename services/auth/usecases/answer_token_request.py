"""Answer a token request from sync: the stored access token while it is good, otherwise a refresh
on demand (single-flight) whose outcome refresh_due.record decides and applies.

Single-flight: one refresh in flight per grant in this process, shared by every request that arrives
while it runs (a waiter never starts its own, so a burst for one grant costs one call to Google and
ends when that call ends); then ``SELECT … FOR UPDATE`` on the grant row (across replicas), then the
expiry is read again; only a caller that still finds it stale calls Google. A forced refresh within
``force_min_interval`` of a working *forced* refresh in this process gets that fresh token without a
call. (Only a forced one counts: a token from the connect or a scheduled refresh may be exactly the
one Google has just rejected, e.g. right after the user removed our access.)

A request ``for_deleted_grant`` (sync stopping a deleted grant's watch channels) is answered from the
grant's held revocation instead (``answer_for_deleted_grant``): one refresh at Google, nothing stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import asyncpg
import structlog

from services.auth.adapters import connection_repository, refresh_repository
from services.auth.domain import refresh_rules, token_answers
from services.auth.domain.model import RefreshGrant
from services.auth.domain.oauth_types import OAuthError, OAuthTransportError, TokenResponse
from services.auth.domain.token_answers import TokenAnswer
from services.auth.usecases.deps import RefreshDeps
from services.auth.usecases.refresh_due import ACCESS_FIELD, REFRESH_FIELD, fetch, record
from shared.db import transaction

log = structlog.get_logger(__name__)

USE_NOTE_INTERVAL = timedelta(minutes=10)  # a warm grant's use is written at most this often
HELD_RETRY_AFTER = 1.0  # seconds: a deleted grant's hold is short, so sync asks again soon


class GrantLocks:
    """This process's refresh in flight per grant: concurrent requests for one grant share its answer."""

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[TokenAnswer]] = {}
        self._forced: dict[str, datetime] = {}  # grant -> when its last forced refresh worked

    def note_forced(self, grant_id: str, refreshed_at: datetime) -> None:
        """A forced refresh of the grant got a new token from Google at ``refreshed_at``."""
        self._forced[grant_id] = refreshed_at

    def forced_token(self, grant_id: str, last_refreshed_at: datetime | None) -> bool:
        """Whether the grant's stored token is the one this process's last forced refresh got."""
        return last_refreshed_at is not None and self._forced.get(grant_id) == last_refreshed_at

    async def share(
        self, grant_id: str, refresh: Callable[[], Awaitable[TokenAnswer]], *, timeout: float
    ) -> TokenAnswer | None:
        """The answer of the grant's refresh in flight (``refresh()`` starts one if there is none);
        None if it takes longer than ``timeout`` (it goes on for the others)."""
        flight = self._flights.get(grant_id)
        if flight is None:
            flight = asyncio.ensure_future(refresh())
            self._flights[grant_id] = flight
            flight.add_done_callback(lambda done: self._landed(grant_id, done))
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(flight)
        except TimeoutError:
            return None

    def _landed(self, grant_id: str, flight: asyncio.Future[TokenAnswer]) -> None:
        if self._flights.get(grant_id) is flight:
            del self._flights[grant_id]
        if not flight.cancelled():
            flight.exception()  # retrieved: every waiter that is still there got it already


async def answer_token_request(
    deps: RefreshDeps, locks: GrantLocks, user_id: str, *, force_refresh: bool = False
) -> TokenAnswer:
    """A usable access token for the user's grant, or why there is none."""
    async with deps.pool.acquire() as conn:
        grant = await refresh_repository.load(conn, user_id=user_id)
        if grant is None:
            return TokenAnswer("no_grant", "no_grant")
        now = deps.clock.now()
        early = token_answers.unusable(grant, deps.settings)
        if early is not None:
            return early
        if refresh_rules.usable(grant.grant.access_expires_at, now, deps.settings):
            if not force_refresh:
                await _note_use(deps, conn, grant, now)
                return _stored_token(deps, grant, "cached")
            last = grant.grant.last_refreshed_at
            if locks.forced_token(grant.grant.grant_id, last) and refresh_rules.refreshed_recently(
                last, now, deps.settings
            ):
                return _stored_token(deps, grant, "recent")
    seen = grant.grant.last_refreshed_at if force_refresh else None
    return await _refresh_on_demand(deps, locks, grant.grant.grant_id, refreshed_before=seen)


async def _note_use(deps: RefreshDeps, conn: asyncpg.Connection, grant: RefreshGrant, now: datetime) -> None:
    expires_at = grant.grant.access_expires_at
    if expires_at is None:
        return
    stale = grant.last_used_at is None or now - grant.last_used_at > USE_NOTE_INTERVAL
    lags = grant.grant.refresh_failures == 0 and refresh_rules.schedule_lags_use(
        grant.grant.next_refresh_at, expires_at, deps.settings
    )  # a back-off keeps its due time
    if stale or lags:
        refresh_by = refresh_rules.proactive_refresh_at(expires_at, deps.settings, deps.jitter())
        await refresh_repository.mark_used(conn, grant.grant.grant_id, now, refresh_by)


def _stored_token(deps: RefreshDeps, grant: RefreshGrant, outcome: str) -> TokenAnswer:
    row = grant.grant
    assert row.access_token_enc is not None
    token = deps.cipher.open_field(row.grant_id, ACCESS_FIELD, row.access_token_enc)
    return TokenAnswer("token", outcome, access_token=token, expires_at=row.access_expires_at)


async def _refresh_on_demand(
    deps: RefreshDeps, locks: GrantLocks, grant_id: str, *, refreshed_before: datetime | None
) -> TokenAnswer:
    """Refresh the grant unless someone else just did, and return the token. The wait is bounded: a
    refresh in flight ends within ``settings.lock_wait`` for the row lock (another replica or a refresh
    batch may hold it across slow Google calls) plus the HTTP timeout. A caller that gives up answers
    temporarily_unavailable and sync asks again."""
    settings = deps.settings

    async def refresh() -> TokenAnswer:
        try:
            async with transaction(deps.pool) as conn:
                return await _refresh_locked(deps, locks, conn, grant_id, refreshed_before)
        except asyncpg.LockNotAvailableError:
            return _busy(grant_id, settings)

    answer = await locks.share(grant_id, refresh, timeout=settings.http_timeout + settings.lock_wait)
    return answer if answer is not None else _busy(grant_id, settings)


def _busy(grant_id: str, settings: refresh_rules.RefreshSettings) -> TokenAnswer:
    log.info("token_request_grant_busy", grant_id=grant_id)
    return token_answers.busy(settings)


async def _refresh_locked(
    deps: RefreshDeps,
    locks: GrantLocks,
    conn: asyncpg.Connection,
    grant_id: str,
    refreshed_before: datetime | None,
) -> TokenAnswer:
    await refresh_repository.lock_wait(conn, deps.settings.lock_wait)
    grant = await refresh_repository.load(conn, grant_id=grant_id, lock=True)
    await refresh_repository.lock_wait(conn, None)  # later locks (breaker, incidents) must not give up
    if grant is None:
        return TokenAnswer("no_grant", "gone")
    now = deps.clock.now()
    early = token_answers.unusable(grant, deps.settings) or token_answers.in_backoff(grant, now)
    if early is not None:
        return early
    if grant.grant.state != "connected":
        return TokenAnswer("disconnected", "not_connected", reason=grant.grant.reason)
    forced_token = locks.forced_token(grant_id, grant.grant.last_refreshed_at)
    if token_answers.serve_stored(
        grant, now, deps.settings, refreshed_before=refreshed_before, forced_token=forced_token
    ):
        return _stored_token(deps, grant, "coalesced")
    if grant.grant.refresh_token_enc is None:
        return TokenAnswer("disconnected", "no_refresh_token", reason="revoked")
    grant = grant.used_at(now)
    result = await fetch(deps, grant)
    decision = await record(deps, conn, grant, result, now)
    if isinstance(result, TokenResponse):
        if refreshed_before is not None:
            locks.note_forced(grant_id, now)
        return replace(decision.answer, access_token=result.access_token)
    return decision.answer


async def answer_for_deleted_grant(deps: RefreshDeps, user_id: str, grant_id: str) -> TokenAnswer:
    """An access token from the deleted grant's held revocation, refreshed once at Google and never
    stored; ``no_grant`` once the hold has ended (released, run out or revoked)."""
    async with deps.pool.acquire() as conn:
        held = await connection_repository.held_revocation(
            conn, grant_id=grant_id, user_id=user_id, now=deps.clock.now()
        )
    if held is None:
        return TokenAnswer("no_grant", "not_held")
    refresh_token = deps.cipher.open_field(held.grant_id, REFRESH_FIELD, held.token_enc)
    try:
        token = await deps.google.refresh(refresh_token)
    except OAuthError as exc:
        log.info("deleted_grant_refresh_failed", grant_id=grant_id, error=exc.error)
        if exc.error == "invalid_grant":
            return TokenAnswer("disconnected", "deleted_grant_dead", reason="revoked")
        return TokenAnswer("temporarily_unavailable", "deleted_grant_error", retry_after=HELD_RETRY_AFTER)
    except OAuthTransportError as exc:
        log.info("deleted_grant_refresh_failed", grant_id=grant_id, error=str(exc))
        return TokenAnswer("temporarily_unavailable", "deleted_grant_error", retry_after=HELD_RETRY_AFTER)
    expires_at = deps.clock.now() + timedelta(seconds=token.expires_in)
    return TokenAnswer("token", "deleted_grant", access_token=token.access_token, expires_at=expires_at)
