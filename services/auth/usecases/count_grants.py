"""Count grants by state for the ``calsync_auth_grants`` gauge; run every few seconds by
entrypoints/jobs.py."""

from __future__ import annotations

from services.auth.adapters import refresh_repository
from services.auth.usecases.deps import RefreshDeps

STATES = ("connected", "disconnected", "suspended")


async def count_grants(deps: RefreshDeps) -> None:
    """Set the grants-by-state gauge."""
    async with deps.pool.acquire() as conn:
        counts = await refresh_repository.grants_by_state(conn)
    for state in STATES:
        deps.metrics.grants.labels(state).set(counts.get(state, 0))
