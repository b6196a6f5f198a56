"""Proactive refresh in batches: a lane claims due grants in one transaction (``FOR UPDATE SKIP
LOCKED``, so replicas share the work and the row locks keep single-flight with token requests), calls
Google for them concurrently under a slot limit shared by all lanes, writes each result in its own
savepoint and commits. No connection is held per call to Google, only one per lane.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import structlog

from services.auth import domain
from services.auth import refresh_repository as repo
from services.auth.oauth_types import TokenResponse
from services.auth.refresh import Refresher

log = structlog.get_logger(__name__)

LANES = 3  # batches in flight at once: one lane's tail overlaps the others' work


def lane_size(s: domain.RefreshSettings) -> int:
    """Grants per batch: enough to keep the slots busy, few enough that a token request for a claimed
    grant (it waits for the batch to commit) waits about two token-endpoint round trips."""
    return max(1, min(s.batch_size, 2 * s.concurrency))


async def run_lane(r: Refresher, slots: asyncio.Semaphore) -> None:
    """Run forever: claim a batch, refresh it, commit; pause ``poll_interval`` when nothing is due."""
    size = lane_size(r.settings)
    while True:
        try:
            claimed = await refresh_batch(r, slots, size)
        except Exception:  # the transaction rolled back: the grants are due again
            log.exception("refresh_batch_failed")
            claimed = 0
        if claimed < size:
            await asyncio.sleep(r.settings.poll_interval)


async def refresh_batch(r: Refresher, slots: asyncio.Semaphore, size: int) -> int:
    """Claim up to ``size`` due grants and refresh them; returns how many were claimed. One grant's
    trouble never undoes the others: each outcome is written in its own savepoint."""
    s = r.settings
    now = r.clock.now()
    async with r.pool.acquire() as conn, conn.transaction():
        grants = await repo.claim_due(conn, now, now + timedelta(seconds=s.claim_lease), size)
        writing = asyncio.Lock()  # one connection: results are written one at a time
        results = await asyncio.gather(
            *(_refresh_one(r, conn, writing, slots, g) for g in grants), return_exceptions=True
        )
        for g, result in zip(grants, results, strict=True):
            if isinstance(result, BaseException):  # not expected: _refresh_one keeps its own failures
                log.error("refresh_grant_crashed", grant_id=g.grant.grant_id, error=type(result).__name__)
    return len(grants)


async def _refresh_one(
    r: Refresher,
    conn: asyncpg.Connection,
    writing: asyncio.Lock,
    slots: asyncio.Semaphore,
    g: repo.RefreshGrant,
) -> None:
    grant = g.grant
    fresh = not domain.needs_refresh(
        now=r.clock.now(),
        access_expires_at=grant.access_expires_at,
        last_refreshed_at=grant.last_refreshed_at,
        s=r.settings,
    )
    if fresh or grant.refresh_token_enc is None:
        return
    async with slots:
        started = r.clock.now()
        result = await r.fetch(g)  # never raises: a failure comes back as a value
    async with writing:
        await _write(r, conn, g, result, started)


async def _write(
    r: Refresher,
    conn: asyncpg.Connection,
    g: repo.RefreshGrant,
    result: TokenResponse | Exception,
    started: datetime,
) -> None:
    """Record the outcome in a savepoint; if that fails, record the failure instead (backoff). If even
    that fails, the claim's lease keeps the grant from being claimed again at once."""
    try:
        async with conn.transaction():
            await r.record(conn, g, result, started, demand=False)
        return
    except Exception as exc:
        log.exception("refresh_write_failed", grant_id=g.grant.grant_id)
        failure = exc
    try:
        async with conn.transaction():
            await r.record(conn, g, failure, started, demand=False)
    except Exception:
        log.exception("refresh_failure_write_failed", grant_id=g.grant.grant_id)
