"""An app-wide failure (``auth.operator.alert``): record one email to the operator per incident that
needs a person, in the message's transaction. Users never get these.
"""

from __future__ import annotations

import asyncpg
import structlog

from services.notifier.adapters import job_queue
from services.notifier.domain.episodes import OPERATOR_KINDS
from shared import messages as m
from shared.clock import Clock

log = structlog.get_logger(__name__)


async def alert_operator(
    conn: asyncpg.Connection, event: m.OperatorAlert, *, clock: Clock, operator_email: str
) -> None:
    """Email the operator once per incident that needs a person (never users)."""
    if event.kind not in OPERATOR_KINDS:
        log.info("operator_alert_noted", incident_id=event.incident_id, kind=event.kind)
        return
    if not operator_email:
        log.warning("operator_alert_without_address", incident_id=event.incident_id, kind=event.kind)
        return
    added = await job_queue.add_job(
        conn,
        dedupe_key=f"operator:{event.incident_id}",
        kind="operator",
        reason=event.kind,
        now=clock.now(),
        data={"incident_id": event.incident_id, "error": event.error, "detail": event.detail},
    )
    log.info(
        "operator_alert_recorded" if added else "operator_alert_duplicate", incident_id=event.incident_id
    )
