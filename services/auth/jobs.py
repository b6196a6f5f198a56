"""Background jobs of refresh: the proactive refresh scheduler (claims due grants across replicas with
FOR UPDATE SKIP LOCKED and refreshes them with bounded concurrency), grant.expiring announcements and
the grants-by-state gauge. Loops poll on short real intervals and decide with the clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import structlog

from services.auth import domain
from services.auth import refresh_repository as repo
from services.auth.refresh import Refresher
from shared import messages as m

log = structlog.get_logger(__name__)

GAUGE_INTERVAL = 5.0  # real seconds between grants-by-state counts
STATES = ("connected", "disconnected", "suspended")


async def refresh_scheduler(r: Refresher) -> None:
    """Run forever: claim due grants and refresh them with ``settings.concurrency`` workers."""
    s = r.settings
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=s.batch_size)
    workers = [
        asyncio.create_task(_worker(r, queue), name=f"refresh-worker-{i}") for i in range(s.concurrency)
    ]
    last_gauge = 0.0
    try:
        while True:
            claimed = await _claim_pass(r, queue)
            if claimed < s.batch_size // 2:
                if time.monotonic() - last_gauge >= GAUGE_INTERVAL:
                    await _guarded(update_gauge(r))
                    last_gauge = time.monotonic()
                await _guarded(announce_expiring(r))
                await asyncio.sleep(s.poll_interval)
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def _claim_pass(r: Refresher, queue: asyncio.Queue[str]) -> int:
    s = r.settings
    room = max(1, s.batch_size - queue.qsize())
    now = r.clock.now()
    try:
        async with r.pool.acquire() as conn:
            ids = await repo.claim_due(conn, now, now + timedelta(seconds=s.claim_lease), room)
    except Exception:
        log.exception("refresh_claim_failed")
        return 0
    for grant_id in ids:
        await queue.put(grant_id)
    return len(ids)


async def _worker(r: Refresher, queue: asyncio.Queue[str]) -> None:
    while True:
        grant_id = await queue.get()
        try:
            await r.refresh_grant(grant_id)
        except Exception:  # the lease expires and another pass retries it
            log.exception("scheduled_refresh_failed", grant_id=grant_id)
        finally:
            queue.task_done()


async def _guarded(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except Exception:
        log.exception("refresh_job_failed")


async def update_gauge(r: Refresher) -> None:
    async with r.pool.acquire() as conn:
        rows = await conn.fetch("SELECT state, count(*) AS n FROM grants GROUP BY state")
    counts = {row["state"]: int(row["n"]) for row in rows}
    for state in STATES:
        r.metrics.grants.labels(state).set(counts.get(state, 0))


async def announce_expiring(r: Refresher) -> int:
    """Emit grant.expiring once for each time-limited grant whose end is near."""
    now = r.clock.now()
    horizon = now + timedelta(seconds=r.settings.expiring_notice)
    async with r.pool.acquire() as conn, conn.transaction():
        grants = await repo.expiring_candidates(conn, horizon, 100)
        for g in grants:
            grant = g.grant
            expires_at = grant.refresh_token_expires_at
            assert expires_at is not None
            if not domain.expiring_due(
                now=now,
                refresh_token_expires_at=expires_at,
                announced_for=g.expiring_announced_for,
                s=r.settings,
            ):
                continue
            await repo.mark_expiring_announced(conn, grant.grant_id, expires_at)
            await r.emit(
                conn,
                m.GrantExpiring(
                    user_id=grant.user_id,
                    grant_id=grant.grant_id,
                    expires_at=expires_at,
                    google_email=None if grant.hijacked else grant.google_email,
                ),
            )
            log.info("grant_expiring_announced", grant_id=grant.grant_id, expires_at=expires_at.isoformat())
    return len(grants)
