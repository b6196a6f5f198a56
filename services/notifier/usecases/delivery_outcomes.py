"""Step 3 of sending a due email (``send_due``): what is recorded once an attempt is over: the job's
new state, a ``delivery_log`` row, the next reminder (``reminders``), a ``notification.*`` event,
metrics and a log line. Every method runs inside the caller's transaction, which holds the job row
(and its episode's row).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

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
class Unsent:
    """An attempt that did not deliver: at which stage, what came back, and to which address."""

    stage: str
    result: SendResult
    recipient: str | None = None

    def log_entry(self) -> dict[str, Any]:
        """The ``delivery_log`` columns this attempt fills."""
        return {
            "stage": self.stage,
            "smtp_code": self.result.code,
            "detail": self.result.detail,
            "recipient": self.recipient,
        }

    def log_fields(self) -> dict[str, Any]:
        return {"stage": self.stage, "error": self.result.detail}


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
        message_id = message_id_for(str(job["id"]), self.policy.mail_from)
        now, attempt = await self._log(
            conn, job, "sent", stage="smtp", smtp_code=250, recipient=to.address, message_id=message_id
        )
        await job_queue.finish_job(conn, job["id"], state="sent", attempts=attempt, at=now, error=None)
        await note_email_went_out(conn, job, episode, now, offsets=self.policy.reminder_offsets)
        await self.outbox.add(conn, m.NotificationSent(**event_fields(job)))
        log.info("email_sent", **log_fields(job), attempt=attempt, recipient_source=to.source)

    async def maybe_sent(self, conn: asyncpg.Connection, job: dict[str, Any], episode: Any) -> None:
        """The worker died after the SMTP conversation began: the email may have been delivered.

        It is not sent again (a doubled alert is worse than a missed one); the episode's cadence goes
        on as if it went out, so a reminder follows in any case. No ``notification.*`` event: nobody
        knows which one would be true.
        """
        detail = f"attempt by {job['sending_by']} interrupted after the SMTP conversation began"
        message_id = message_id_for(str(job["id"]), self.policy.mail_from)
        now, attempt = await self._log(
            conn, job, "maybe_sent", stage="smtp", detail=detail, message_id=message_id
        )
        await job_queue.finish_job(
            conn, job["id"], state="maybe_sent", attempts=attempt, at=now, error=detail
        )
        await note_email_went_out(conn, job, episode, now, offsets=self.policy.reminder_offsets)
        log.warning("email_maybe_sent", **log_fields(job), attempt=attempt, sending_by=job["sending_by"])

    async def interrupted(self, conn: asyncpg.Connection, job: dict[str, Any]) -> None:
        """The worker died before talking to the SMTP server: nothing went out, try again now."""
        detail = f"attempt by {job['sending_by']} interrupted before the SMTP conversation"
        now, attempt = await self._log(conn, job, "retry", stage="interrupted", detail=detail)
        await job_queue.reschedule_job(conn, job["id"], attempts=attempt, due_at=now, error=detail)
        log.warning("email_attempt_interrupted", **log_fields(job), attempt=attempt)

    async def retry(self, conn: asyncpg.Connection, job: dict[str, Any], unsent: Unsent) -> None:
        """A temporary failure: back to ``pending`` with backoff, or given up after the last attempt."""
        now, attempt = self.clock.now(), job["attempts"] + 1
        decision = after_temporary_failure(
            attempts=attempt, max_attempts=self.policy.max_attempts, delays=self.policy.retry_delays, now=now
        )
        if decision.give_up or decision.due_at is None:
            await self.failed(conn, job, unsent, reason="retries_exhausted")
            return
        await self._log(conn, job, "retry", **unsent.log_entry(), at=now)
        error = unsent.result.detail
        await job_queue.reschedule_job(conn, job["id"], attempts=attempt, due_at=decision.due_at, error=error)
        retry_at = decision.due_at.isoformat()
        log.warning(
            "email_deferred", **log_fields(job), **unsent.log_fields(), attempt=attempt, retry_at=retry_at
        )

    async def failed(
        self, conn: asyncpg.Connection, job: dict[str, Any], unsent: Unsent, *, reason: str = "smtp_rejected"
    ) -> None:
        """Given up: at once for a ``reason`` that can never pass, or after the last temporary failure."""
        permanent = reason != "retries_exhausted"
        now, attempt = await self._log(conn, job, "failed", **unsent.log_entry())
        error = unsent.result.detail
        await job_queue.finish_job(conn, job["id"], state="failed", attempts=attempt, at=now, error=error)
        event = m.NotificationFailed(
            **event_fields(job), error=f"{unsent.stage}: {error}", permanent=permanent
        )
        await self.outbox.add(conn, event)
        self.metrics.failed.labels(reason).inc()
        log.warning(
            "email_failed", **log_fields(job), **unsent.log_fields(), failure=reason, permanent=permanent
        )

    async def _log(
        self,
        conn: asyncpg.Connection,
        job: dict[str, Any],
        outcome: str,
        *,
        stage: str,
        at: datetime | None = None,
        **entry: Unpack[job_queue.AttemptDetails],
    ) -> tuple[datetime, int]:
        """Write this attempt to ``delivery_log`` and count it by outcome; returns when, and its number.

        ``entry``: the log row's ``smtp_code``, ``detail``, ``recipient`` and ``message_id``, as known.
        """
        now, attempt = at or self.clock.now(), job["attempts"] + 1
        await job_queue.log_attempt(
            conn, job["id"], attempt=attempt, at=now, outcome=outcome, stage=stage, **entry
        )
        self.metrics.emails.labels(job["kind"], outcome).inc()
        return now, attempt


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
