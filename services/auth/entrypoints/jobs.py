"""auth's scheduled jobs, started by app.py: the refresh scheduler (lanes calling
usecases/refresh_due.py under a shared slot limit; between passes the grants gauge and grant.expiring
announcements) and the revocation retries. Loops poll on short real intervals; the use cases decide
with the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable

import asyncpg
import structlog

from services.auth.config import AuthConfig
from services.auth.usecases import revoke_tokens
from services.auth.usecases.announce_expiring import announce_expiring
from services.auth.usecases.count_grants import count_grants
from services.auth.usecases.deps import ConnectionDeps, RefreshDeps
from services.auth.usecases.refresh_due import lane_size, refresh_due

log = structlog.get_logger(__name__)

LANES = 3  # batches in flight at once: one lane's tail overlaps the others' work
GAUGE_INTERVAL = 5.0  # real seconds between grants-by-state counts


async def refresh_scheduler(deps: RefreshDeps) -> None:
    """Run forever: refresh lanes sharing ``settings.concurrency`` slots for calls to Google, and
    between passes the grants-by-state gauge and grant.expiring announcements."""
    slots = asyncio.Semaphore(deps.settings.concurrency)
    lanes = [
        asyncio.create_task(refresh_lane(deps, slots), name=f"refresh-lane-{number}")
        for number in range(LANES)
    ]
    last_gauge = 0.0
    try:
        while True:
            if time.monotonic() - last_gauge >= GAUGE_INTERVAL:
                await _guarded(count_grants(deps))
                last_gauge = time.monotonic()
            await _guarded(announce_expiring(deps))
            await asyncio.sleep(deps.settings.poll_interval)
    finally:
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)


async def refresh_lane(deps: RefreshDeps, slots: asyncio.Semaphore) -> None:
    """Run forever: claim a batch, refresh it, commit; pause ``poll_interval`` when nothing is due."""
    size = lane_size(deps.settings)
    while True:
        try:
            claimed = await refresh_due(deps, slots, size)
        except Exception:  # the transaction rolled back: the grants are due again
            log.exception("refresh_batch_failed")
            claimed = 0
        if claimed < size:
            await asyncio.sleep(deps.settings.poll_interval)


async def _guarded(job: Awaitable[object]) -> None:
    try:
        await job
    except Exception:  # a failed pass is logged; the next pass tries again
        log.exception("refresh_job_failed")


async def revocation_retries(deps: ConnectionDeps, config: AuthConfig, wake: asyncio.Event) -> None:
    """Run forever: try due revocations, drop stale OAuth states; ``wake`` is set after a commit that
    queued a revocation, otherwise a pass runs every ``revoke_retry_interval`` seconds."""
    while True:
        try:
            await revoke_tokens.revoke_due(
                deps.pool,
                google=deps.google,
                cipher=deps.cipher,
                clock=deps.clock,
                base_delay=config.revoke_retry_interval,
                max_attempts=config.revoke_max_attempts,
            )
            await revoke_tokens.forget_stale_states(deps.pool, clock=deps.clock)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("revocation_pass_failed", error=type(exc).__name__)
        except Exception:  # a failed pass is logged; the next pass tries again
            log.exception("revocation_pass_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), config.revoke_retry_interval)
        wake.clear()
