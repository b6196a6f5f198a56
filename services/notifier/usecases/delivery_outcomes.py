"""Step 3 of sending a due email (``send_due``): what is recorded once an attempt is over: the job's
new state, a ``delivery_log`` row, the next reminder (``reminders``), a ``notification.*`` event,
metrics and a log line. Every method runs inside the caller's transaction, which holds the job row
(and its episode's row).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from services.notifier.adapters import job_queue
from services.notifier.adapters.metrics import Metrics
from services.notifier.adapters.smtp import SendResult, message_id_for
from services.notifier.domain.emails import Recipient
from services.notifier.domain.retries import after_temporary_failure
from services.notifier.usecases.reminders import note_email_went_out
from shared import messages as m
from shared.clock import Clock
from shared.outbox import Outbox

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    """The configured rules of delivery: sender address, retries, reminder cadence, stale attempts."""

    mail_from: str
    max_attempts: int
    retry_delays: tuple[float, ...]
    reminder_offsets: tuple[timedelta, ...]
    stale_after: float


@dataclass(frozen=True)
class Outcomes:
    clock: Clock
    policy: DeliveryPolicy
    metrics: Metrics
    outbox: Outbox

    async def cancelled(self, conn: asyncpg.Connection, job: dict[str, Any], why: str) -> None:
        await job_queue.finish_job(
            conn, job["id"], state="cancelled", attempts=job["attempts"], at=self.clock.now(), error=why
        )

    async def sent(self, conn: asyncpg.Connection, job: dict[str, Any], episode: Any, to: Recipient) -> None:
        now, attempt = self.clock.now(), job["attempts"] + 1
        message_id = message_id_for(str(job["id"]), self.policy.mail_from)
        await job_queue.log_attempt(
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
        await job_queue.finish_job(conn, job["id"], state="sent", attempts=attempt, at=now, error=None)
        await note_email_went_out(conn, job, episode, now, offsets=self.policy.reminder_offsets)
        await self.outbox.add(conn, m.NotificationSent(**event_fields(job)))
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
        await job_queue.log_attempt(
            conn,
            job["id"],
            attempt=attempt,
            at=now,
            outcome="maybe_sent",
            stage="smtp",
            detail=detail,
            message_id=message_id_for(str(job["id"]), self.policy.mail_from),
        )
        await job_queue.finish_job(
            conn, job["id"], state="maybe_sent", attempts=attempt, at=now, error=detail
        )
        await note_email_went_out(conn, job, episode, now, offsets=self.policy.reminder_offsets)
        self.metrics.emails.labels(job["kind"], "maybe_sent").inc()
        log.warning("email_maybe_sent", **log_fields(job), attempt=attempt, sending_by=job["sending_by"])

    async def interrupted(self, conn: asyncpg.Connection, job: dict[str, Any]) -> None:
        """The worker died before talking to the SMTP server: nothing went out, try again now."""
        now, attempt = self.clock.now(), job["attempts"] + 1
        detail = f"attempt by {job['sending_by']} interrupted before the SMTP conversation"
        await job_queue.log_attempt(
            conn, job["id"], attempt=attempt, at=now, outcome="retry", stage="interrupted", detail=detail
        )
        await job_queue.reschedule_job(conn, job["id"], attempts=attempt, due_at=now, error=detail)
        self.metrics.emails.labels(job["kind"], "retry").inc()
        log.warning("email_attempt_interrupted", **log_fields(job), attempt=attempt)

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
        decision = after_temporary_failure(
            attempts=attempt, max_attempts=self.policy.max_attempts, delays=self.policy.retry_delays, now=now
        )
        if decision.give_up or decision.due_at is None:
            await self.failed(conn, job, stage=stage, result=result, recipient=recipient, permanent=False)
            return
        await _log_unsent(
            conn, job, "retry", attempt=attempt, at=now, stage=stage, result=result, to=recipient
        )
        await job_queue.reschedule_job(
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
        await job_queue.finish_job(
            conn, job["id"], state="failed", attempts=attempt, at=now, error=result.detail
        )
        error = f"{stage}: {result.detail}"
        await self.outbox.add(
            conn, m.NotificationFailed(**event_fields(job), error=error, permanent=permanent)
        )
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
    await job_queue.log_attempt(
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
