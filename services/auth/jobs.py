"""Background jobs of refresh: the proactive refresh scheduler (batches claimed across replicas with
FOR UPDATE SKIP LOCKED, refreshed with bounded concurrency: refresh_batches.py), grant.expiring
announcements and the grants-by-state gauge. Loops poll on short real intervals and decide with the clock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import structlog

from services.auth import domain, refresh_batches
from services.auth import refresh_repository as repo
from services.auth.refresh import Refresher
from shared import messages as m

log = structlog.get_logger(__name__)

GAUGE_INTERVAL = 5.0  # real seconds between grants-by-state counts
STATES = ("connected", "disconnected", "suspended")


async def refresh_scheduler(r: Refresher) -> None:
    """Run forever: refresh lanes (refresh_batches.py) sharing ``settings.concurrency`` slots for calls
    to Google, and between passes the grants-by-state gauge and grant.expiring announcements."""
    slots = asyncio.Semaphore(r.settings.concurrency)
    lanes = [
        asyncio.create_task(refresh_batches.run_lane(r, slots), name=f"refresh-lane-{i}")
        for i in range(refresh_batches.LANES)
    ]
    last_gauge = 0.0
    try:
        while True:
            if time.monotonic() - last_gauge >= GAUGE_INTERVAL:
                await _guarded(update_gauge(r))
                last_gauge = time.monotonic()
            await _guarded(announce_expiring(r))
            await asyncio.sleep(r.settings.poll_interval)
    finally:
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)


async def _guarded(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except Exception:
        log.exception("refresh_job_failed")


async def update_gauge(r: Refresher) -> None:
    async with r.pool.acquire() as conn:
        counts = await repo.grants_by_state(conn)
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
                    google_email=grant.mailbox,
                ),
            )
            log.info("grant_expiring_announced", grant_id=grant.grant_id, expires_at=expires_at.isoformat())
    return len(grants)
