"""Test the connection (settings page button, ``POST /api/v1/users/{id}/connection/test``): auth
forces a refresh of the user's grant at Google's token endpoint (the same single-flight path as
sync's forced token requests, so a dead grant is recorded and announced as usual), then asks sync
to probe the calendar and the watch channel (adapters/sync_api)."""

from __future__ import annotations

import structlog

from services.auth.adapters.sync_api import SyncApi, SyncRefused, SyncUnavailable
from services.auth.domain import connection_test
from services.auth.domain.connection_test import ConnectionReport
from services.auth.usecases.answer_token_request import GrantLocks, answer_token_request
from services.auth.usecases.deps import RefreshDeps

log = structlog.get_logger(__name__)


async def run(deps: RefreshDeps, locks: GrantLocks, sync: SyncApi, user_id: str) -> ConnectionReport:
    """All three steps; steps 2 and 3 are skipped when the grant gives no token."""
    answer = await answer_token_request(deps, locks, user_id, force_refresh=True)
    grant = connection_test.grant_step(answer)
    if grant.status != "ok":
        result = connection_test.without_grant(grant)
    else:
        try:
            result = connection_test.from_sync(grant, await sync.connection_test(user_id))
        except (SyncUnavailable, SyncRefused) as exc:
            log.warning("connection_test_sync_unavailable", user_id=user_id, error=str(exc))
            result = connection_test.sync_unreachable(grant)
    log.info("connection_tested", user_id=user_id, **{step.name: step.code for step in result.steps})
    return result
