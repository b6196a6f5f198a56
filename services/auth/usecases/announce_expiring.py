"""Announce the end of time-limited grants (``grant.expiring``), once each, ``expiring_notice`` ahead;
run between refresh passes by entrypoints/jobs.py."""

from __future__ import annotations

from datetime import timedelta

import structlog

from services.auth.adapters import refresh_repository
from services.auth.domain import grant_events, refresh_rules
from services.auth.usecases.deps import RefreshDeps
from shared.db import transaction

log = structlog.get_logger(__name__)

BATCH = 100


async def announce_expiring(deps: RefreshDeps) -> int:
    """Emit grant.expiring once for each time-limited grant whose end is near; returns how many were read."""
    now = deps.clock.now()
    horizon = now + timedelta(seconds=deps.settings.expiring_notice)
    async with transaction(deps.pool) as conn:
        candidates = await refresh_repository.expiring_candidates(conn, horizon, BATCH)
        for candidate in candidates:
            grant = candidate.grant
            expires_at = grant.refresh_token_expires_at
            assert expires_at is not None
            if not refresh_rules.expiring_due(
                now=now,
                refresh_token_expires_at=expires_at,
                announced_for=candidate.expiring_announced_for,
                s=deps.settings,
            ):
                continue
            await refresh_repository.mark_expiring_announced(conn, grant.grant_id, expires_at)
            await deps.outbox.add(conn, grant_events.expiring(grant, expires_at=expires_at))
            log.info("grant_expiring_announced", grant_id=grant.grant_id, expires_at=expires_at.isoformat())
    return len(candidates)
