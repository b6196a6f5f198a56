"""What the delivery worker records once an attempt is over: the job's new state, a ``delivery_log``
row, the next reminder, a ``notification.*`` event, metrics and a log line.

Every method runs inside the caller's transaction, which holds the job row (and its episode's row).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.notifier import compose, domain
from services.notifier import repository as repo
from services.notifier.config import NotifierConfig
from services.notifier.senders import SendResult, message_id_for
from shared import messages as m
from shared import outbox
from shared.clock import Clock

log = structlog.get_logger(__name__)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.emails = Counter(
            "calsync_notifier_emails_total",
            "Email delivery attempts by kind and outcome (sent, maybe_sent, retry, failed)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.episodes_open = Gauge(
            "calsync_notifier_episodes_open", "Problem episodes not yet ended", registry=registry
        )


@dataclass
class Outcomes:
    clock: Clock
    config: NotifierConfig
    metrics: Metrics

    async def cancelled(self, conn: asyncpg.Connection, job: dict[str, Any], why: str) -> None:
        await repo.finish_job(
            conn, job["id"], state="cancelled", attempts=job["attempts"], at=self.clock.now(), error=why
        )

    async def sent(
        self, conn: asyncpg.Connection, job: dict[str, Any], episode: Any, to: compose.Recipient
    ) -> None:
        now, attempt = self.clock.now(), job["attempts"] + 1
        message_id = message_id_for(str(job["id"]), self.config.mail_from)
        await repo.log_attempt(
            conn,
            job["id"],
            attempt=attempt,
            at=now,
            outcome="sent",
            stage="smtp",
            smtp_code=250,
            recipient=to.address,
            message_id=message_id,
        )
        await repo.finish_job(conn, job["id"], state="sent", attempts=attempt, at=now, error=None)
        await self._episode_email_went_out(conn, job, episode, now)
        await outbox.add(conn, m.NotificationSent(**event_fields(job)))
        self.metrics.emails.labels(job["kind"], "sent").inc()
        log.info("email_sent", **log_fields(job), attempt=attempt, recipient_source=to.source)

    async def maybe_sent(self, conn: asyncpg.Connection, job: dict[str, Any], episode: Any) -> None:
        """The worker died after the SMTP conversation began: the email may have been delivered.

        It is not sent again (a doubled alert is worse than a missed one); the episode's cadence goes
        on as if it went out, so a reminder follows in any case. No ``notification.*`` event: nobody
        knows which one would be true.
        """
        now, attempt = self.clock.now(), job["attempts"] + 1
        detail = f"attempt by {job['sending_by']} interrupted after the SMTP conversation began"
        await repo.log_attempt(
            conn,
            job["id"],
            attempt=attempt,
            at=now,
            outcome="maybe_sent",
            stage="smtp",
            detail=detail,
            message_id=message_id_for(str(job["id"]), self.config.mail_from),
        )
        await repo.finish_job(conn, job["id"], state="maybe_sent", attempts=attempt, at=now, error=detail)
        await self._episode_email_went_out(conn, job, episode, now)
        self.metrics.emails.labels(job["kind"], "maybe_sent").inc()
        log.warning("email_maybe_sent", **log_fields(job), attempt=attempt, sending_by=job["sending_by"])

    async def interrupted(self, conn: asyncpg.Connection, job: dict[str, Any]) -> None:
        """The worker died before talking to the SMTP server: nothing went out, try again now."""
        now, attempt = self.clock.now(), job["attempts"] + 1
        detail = f"attempt by {job['sending_by']} interrupted before the SMTP conversation"
        await repo.log_attempt(
            conn, job["id"], attempt=attempt, at=now, outcome="retry", stage="interrupted", detail=detail
        )
        await repo.reschedule_job(conn, job["id"], attempts=attempt, due_at=now, error=detail)
        self.metrics.emails.labels(job["kind"], "retry").inc()
        log.warning("email_attempt_interrupted", **log_fields(job), attempt=attempt)

    async def _episode_email_went_out(
        self, conn: asyncpg.Connection, job: dict[str, Any], episode: Any, now: datetime
    ) -> None:
        """Note the alert or reminder on its episode and schedule the next reminder, if any is due."""
        if job["kind"] not in compose.EPISODE_KINDS or episode is None:
            return
        sequence = job["sequence"]
        await repo.record_episode_email(conn, episode["id"], sequence, now)
        alert_sent_at = now if sequence == 0 else episode["alert_sent_at"]
        due = domain.reminder_due(alert_sent_at, sequence, self.config.reminder_offsets)
        if due is None or episode["ended_at"] is not None or episode["reminders_stopped_at"] is not None:
            return
        await repo.add_job(
            conn,
            dedupe_key=f"episode:{episode['id']}:reminder:{sequence + 1}",
            kind="reminder",
            user_id=job["user_id"],
            episode_id=episode["id"],
            reason=job["reason"],
            sequence=sequence + 1,
            due_at=due,
            now=now,
        )

    async def retry(
        self,
        conn: asyncpg.Connection,
        job: dict[str, Any],
        *,
        stage: str,
        result: SendResult,
        recipient: str | None = None,
    ) -> None:
        """A temporary failure: back to ``pending`` with backoff, or given up after the last attempt."""
        now, attempt = self.clock.now(), job["attempts"] + 1
        decision = domain.after_temporary_failure(
            attempts=attempt,
            max_attempts=self.config.delivery_max_attempts,
            delays=self.config.delivery_retry_delays,
            now=now,
        )
        if decision.give_up or decision.due_at is None:
            await self.failed(conn, job, stage=stage, result=result, recipient=recipient, permanent=False)
            return
        await _log_unsent(
            conn, job, "retry", attempt=attempt, at=now, stage=stage, result=result, to=recipient
        )
        await repo.reschedule_job(
            conn, job["id"], attempts=attempt, due_at=decision.due_at, error=result.detail
        )
        self.metrics.emails.labels(job["kind"], "retry").inc()
        log.warning(
            "email_deferred",
            **log_fields(job),
            stage=stage,
            attempt=attempt,
            error=result.detail,
            retry_at=decision.due_at.isoformat(),
        )

    async def failed(
        self,
        conn: asyncpg.Connection,
        job: dict[str, Any],
        *,
        stage: str,
        result: SendResult,
        recipient: str | None = None,
        permanent: bool = True,
    ) -> None:
        now, attempt = self.clock.now(), job["attempts"] + 1
        await _log_unsent(
            conn, job, "failed", attempt=attempt, at=now, stage=stage, result=result, to=recipient
        )
        await repo.finish_job(conn, job["id"], state="failed", attempts=attempt, at=now, error=result.detail)
        error = f"{stage}: {result.detail}"
        await outbox.add(conn, m.NotificationFailed(**event_fields(job), error=error, permanent=permanent))
        self.metrics.emails.labels(job["kind"], "failed").inc()
        log.warning("email_failed", **log_fields(job), stage=stage, error=result.detail, permanent=permanent)


async def _log_unsent(
    conn: asyncpg.Connection,
    job: dict[str, Any],
    outcome: str,
    *,
    attempt: int,
    at: datetime,
    stage: str,
    result: SendResult,
    to: str | None,
) -> None:
    """Record in ``delivery_log`` an attempt that did not deliver (``retry`` or ``failed``)."""
    await repo.log_attempt(
        conn,
        job["id"],
        attempt=attempt,
        at=at,
        outcome=outcome,
        stage=stage,
        smtp_code=result.code,
        detail=result.detail,
        recipient=to,
    )


def event_fields(job: dict[str, Any]) -> dict[str, Any]:
    episode_id: uuid.UUID | None = job["episode_id"]
    return {
        "notification_id": str(job["id"]),
        "user_id": job["user_id"],
        "kind": job["kind"],
        "reason": job["reason"],
        "episode_id": str(episode_id) if episode_id else None,
    }


def log_fields(job: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": str(job["id"]), "kind": job["kind"], "reason": job["reason"], "user_id": job["user_id"]}
