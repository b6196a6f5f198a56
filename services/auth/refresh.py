"""Refresh use cases: hand out a valid access token (refreshing single-flight when needed) and refresh
one grant for the scheduler. Failures are judged by domain.classify and acted on in verdicts.py.

Single-flight: a per-process lock per grant, then ``SELECT … FOR UPDATE`` on the grant row (across
replicas), then the expiry is read again; only a caller that still finds it stale calls Google.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog

from services.auth import domain, verdicts
from services.auth import refresh_repository as repo
from services.auth.crypto import TokenCipher, token_hash, token_prefix_hash
from services.auth.google_oauth import GoogleOAuth
from services.auth.oauth_types import TokenResponse
from services.auth.refresh_metrics import RefreshMetrics
from shared import messages as m
from shared import outbox
from shared.clock import Clock

log = structlog.get_logger(__name__)

REFRESH_FIELD = "refresh_token"
ACCESS_FIELD = "access_token"


@dataclass(frozen=True)
class TokenAnswer:
    """What a token request gets; ``outcome`` labels what happened for metrics."""

    status: str  # token | disconnected | no_grant | temporarily_unavailable
    outcome: str
    access_token: str | None = None
    expires_at: datetime | None = None
    reason: str | None = None
    retry_after: float | None = None


class Refresher:
    """Refresh use cases bound to their dependencies (one per app)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        google: GoogleOAuth,
        cipher: TokenCipher,
        clock: Clock,
        settings: domain.RefreshSettings,
        metrics: RefreshMetrics,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.pool, self.google, self.cipher, self.clock = pool, google, cipher, clock
        self.settings, self.metrics, self.wake = settings, metrics, wake
        self.rng = random.Random()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, grant_id: str) -> asyncio.Lock:
        lock = self._locks.get(grant_id)
        if lock is None:
            lock = self._locks[grant_id] = asyncio.Lock()
        return lock

    async def get_access_token(self, user_id: str, *, force_refresh: bool = False) -> TokenAnswer:
        """A usable access token for the user's grant, or why there is none."""
        async with self.pool.acquire() as conn:
            g = await repo.load(conn, user_id=user_id)
            if g is None:
                return TokenAnswer("no_grant", "no_grant")
            now = self.clock.now()
            early = _unusable(g, now, self.settings)
            if early is not None:
                return early
            if not force_refresh and domain.usable(g.grant.access_expires_at, now, self.settings):
                await self._note_use(conn, g, now)
                return self._token(
                    g.grant.grant_id, g.grant.access_token_enc, g.grant.access_expires_at, "cached"
                )
        seen = g.grant.last_refreshed_at if force_refresh else None
        return await self.refresh_grant(g.grant.grant_id, demand=True, refreshed_before=seen)

    async def _note_use(self, conn: asyncpg.Connection, g: repo.RefreshGrant, now: datetime) -> None:
        stale = g.last_used_at is None or now - g.last_used_at > timedelta(minutes=10)
        if stale and g.grant.access_expires_at is not None:
            refresh_by = domain.proactive_refresh_at(
                g.grant.access_expires_at, self.settings, self.rng.random()
            )
            await repo.mark_used(conn, g.grant.grant_id, now, refresh_by)

    def _token(
        self, grant_id: str, blob: bytes | None, expires_at: datetime | None, outcome: str
    ) -> TokenAnswer:
        assert blob is not None
        token = self.cipher.open_field(grant_id, ACCESS_FIELD, blob)
        return TokenAnswer("token", outcome, access_token=token, expires_at=expires_at)

    async def refresh_grant(
        self, grant_id: str, *, demand: bool = False, refreshed_before: datetime | None = None
    ) -> TokenAnswer:
        """Refresh one grant unless someone else just did; ``demand`` returns the token as well.

        On demand the waits are bounded: for this process's caller already refreshing the grant (it
        ends within the HTTP timeout) and, ``settings.lock_wait``, for the row lock another replica or
        a refresh batch may hold across slow Google calls. A caller that gives up answers
        temporarily_unavailable and sync asks again."""
        lock = self._lock(grant_id)
        s = self.settings
        try:
            async with asyncio.timeout(s.http_timeout + s.lock_wait if demand else None):
                await lock.acquire()
        except TimeoutError:
            return self._busy(grant_id)
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                return await self._refresh_locked(conn, grant_id, demand, refreshed_before)
        except asyncpg.LockNotAvailableError:
            return self._busy(grant_id)
        finally:
            lock.release()

    def _busy(self, grant_id: str) -> TokenAnswer:
        log.info("token_request_grant_busy", grant_id=grant_id)
        return TokenAnswer("temporarily_unavailable", "busy", retry_after=max(1.0, self.settings.lock_wait))

    async def _refresh_locked(
        self, conn: asyncpg.Connection, grant_id: str, demand: bool, refreshed_before: datetime | None
    ) -> TokenAnswer:
        if demand:
            await repo.lock_wait(conn, self.settings.lock_wait)
        g = await repo.load(conn, grant_id=grant_id, lock=True)
        if demand:
            await repo.lock_wait(conn, None)  # later locks (breaker, incidents) must not give up
        if g is None:
            return TokenAnswer("no_grant", "gone")
        now = self.clock.now()
        early = (_unusable(g, now, self.settings) or self._in_backoff(g, now)) if demand else None
        if early is not None:
            return early
        if g.grant.state != "connected":
            return TokenAnswer("disconnected", "not_connected", reason=g.grant.reason)
        answer = self._still_fresh(g, now, demand=demand, refreshed_before=refreshed_before)
        if answer is not None:
            return answer
        if demand:
            g = _with_use(g, now)
        return await self._call_google(conn, g, now, demand=demand)

    def _in_backoff(self, g: repo.RefreshGrant, now: datetime) -> TokenAnswer | None:
        due = g.grant.next_refresh_at
        if g.grant.refresh_failures > 0 and due is not None and due > now:
            return TokenAnswer("temporarily_unavailable", "backoff", retry_after=(due - now).total_seconds())
        return None

    def _still_fresh(
        self, g: repo.RefreshGrant, now: datetime, *, demand: bool, refreshed_before: datetime | None
    ) -> TokenAnswer | None:
        grant = g.grant
        if demand:
            forced = refreshed_before is not None and grant.last_refreshed_at == refreshed_before
            if not forced and domain.usable(grant.access_expires_at, now, self.settings):
                return self._token(
                    grant.grant_id, grant.access_token_enc, grant.access_expires_at, "coalesced"
                )
            return None
        if domain.needs_refresh(
            now=now,
            access_expires_at=grant.access_expires_at,
            last_refreshed_at=grant.last_refreshed_at,
            s=self.settings,
        ):
            return None
        return TokenAnswer("token", "skipped")

    async def _call_google(
        self, conn: asyncpg.Connection, g: repo.RefreshGrant, now: datetime, *, demand: bool
    ) -> TokenAnswer:
        if g.grant.refresh_token_enc is None:
            return TokenAnswer("disconnected", "no_refresh_token", reason="revoked")
        return await self.record(conn, g, await self.fetch(g), now, demand=demand)

    async def fetch(self, g: repo.RefreshGrant) -> TokenResponse | Exception:
        """The call to Google's token endpoint (no database work): a response, or any failure as a value
        (Google's, the network's, or our own, e.g. a refresh token that no configured key opens)."""
        grant = g.grant
        try:
            assert grant.refresh_token_enc is not None
            refresh_token = self.cipher.open_field(grant.grant_id, REFRESH_FIELD, grant.refresh_token_enc)
            return await self.google.refresh(refresh_token)
        except Exception as exc:
            return exc

    async def record(
        self,
        conn: asyncpg.Connection,
        g: repo.RefreshGrant,
        result: TokenResponse | Exception,
        now: datetime,
        *,
        demand: bool,
    ) -> TokenAnswer:
        """Store what Google answered (``now``: when the call started) and judge failures."""
        grant = g.grant
        if not isinstance(result, TokenResponse):
            answer = await verdicts.on_failure(self, conn, g, result, now)
            self.metrics.refreshes.labels(answer.outcome).inc()
            return answer
        await self._save(conn, g, result, now)
        self.metrics.refreshes.labels("ok").inc()
        ahead = (grant.access_expires_at - now).total_seconds() if grant.access_expires_at else 0.0
        self.metrics.lead.observe(max(0.0, ahead))
        expires_at = result.expires_at(now)
        if not demand:
            return TokenAnswer("token", "refreshed", expires_at=expires_at)
        return TokenAnswer("token", "refreshed", access_token=result.access_token, expires_at=expires_at)

    async def _save(
        self, conn: asyncpg.Connection, g: repo.RefreshGrant, r: TokenResponse, now: datetime
    ) -> None:
        grant = g.grant
        access_expires_at = r.expires_at(now)
        rotated = r.refresh_token if r.refresh_token else None
        await repo.save_refreshed(
            conn,
            grant.grant_id,
            repo.Refreshed(
                access_token_enc=self.cipher.seal_field(grant.grant_id, ACCESS_FIELD, r.access_token),
                access_expires_at=access_expires_at,
                refresh_token_enc=self.cipher.seal_field(grant.grant_id, REFRESH_FIELD, rotated)
                if rotated
                else None,
                token_hash=token_hash(rotated) if rotated else None,
                token_prefix_hash=token_prefix_hash(rotated) if rotated else None,
                refresh_token_expires_at=r.refresh_token_expires_at(now),
                last_used_at=g.last_used_at,
                next_refresh_at=domain.next_refresh_at(
                    now=now,
                    access_expires_at=access_expires_at,
                    last_used_at=g.last_used_at,
                    s=self.settings,
                    u=self.rng.random(),
                ),
            ),
            now,
        )
        if rotated:
            log.info("refresh_token_rotated", grant_id=grant.grant_id)
        await verdicts.on_success(self, conn, g, now)

    async def emit(self, conn: asyncpg.Connection, message: m.Message) -> None:
        await outbox.add(conn, message, occurred_at=self.clock.now())
        asyncio.get_running_loop().call_soon(self.wake)


def _unusable(g: repo.RefreshGrant, now: datetime, s: domain.RefreshSettings) -> TokenAnswer | None:
    """The answer for a grant that cannot give a token at all (disconnected, suspended, held)."""
    grant = g.grant
    if grant.state == "disconnected":
        return TokenAnswer("disconnected", "disconnected", reason=grant.reason)
    if grant.state == "suspended":
        return TokenAnswer("disconnected", "suspended", reason=grant.reason or "security_block")
    if g.pending_verdict:
        return TokenAnswer("temporarily_unavailable", "pending_verdict", retry_after=s.retry_max)
    return None


def _with_use(g: repo.RefreshGrant, now: datetime) -> repo.RefreshGrant:
    return repo.RefreshGrant(
        g.grant,
        now,
        g.last_attempt_at,
        g.verdict_pending_since,
        g.verdict_pending_reason,
        g.expiring_announced_for,
    )
