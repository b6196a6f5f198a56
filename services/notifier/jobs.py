"""The delivery worker: claims due email jobs (FOR UPDATE SKIP LOCKED), sends them, records the outcome.

Each job is handled in one transaction that holds its row (and its episode's row) while the link is
minted and the SMTP server answers, so two workers or two notifier instances never send the same
email. Temporary failures (auth unreachable, 4xx, connection errors) reschedule the job with backoff
from ``clock.now()``; permanent ones (5xx, no address) are recorded and published as
``notification.failed``. Every attempt goes into ``delivery_log``.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from services.notifier.links import AuthLinks, LinkUnavailable
from services.notifier.rendering import Templates
from services.notifier.senders import SendResult, SmtpSender, build_message, message_id_for
from shared import messages as m
from shared import outbox
from shared.clock import Clock

log = structlog.get_logger(__name__)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.emails = Counter(
            "calsync_notifier_emails_total",
            "Email delivery attempts by kind and outcome",
            ["kind", "outcome"],
            registry=registry,
        )
        self.episodes_open = Gauge(
            "calsync_notifier_episodes_open", "Problem episodes not yet ended", registry=registry
        )


@dataclass
class DeliveryWorker:
    pool: asyncpg.Pool
    clock: Clock
    config: NotifierConfig
    templates: Templates
    sender: SmtpSender
    links: AuthLinks
    metrics: Metrics
    wake_relay: Any = None

    def __post_init__(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Let every ``run`` loop finish its current job and return."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver due jobs forever; idle for the poll interval when nothing is due."""
        loop = asyncio.get_running_loop()
        next_gauge = 0.0
        task = asyncio.current_task()
        # A cancellation can be lost on Python 3.11 when it coincides with a timeout (asyncio.timeout
        # and wait_for both convert it); ``stop()`` and the cancelling() check end the loop regardless.
        while not self._stopping and not (task is not None and task.cancelling()):
            try:
                if loop.time() >= next_gauge:
                    await self.refresh_gauge()
                    next_gauge = loop.time() + 10.0
                if await self.deliver_one():
                    continue
            except Exception:  # a bug or the database is away: keep the loop alive
                log.exception("delivery_loop_failed")
            if self._stopping:
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.delivery_poll_interval):
                    await self._wake.wait()

    async def refresh_gauge(self) -> None:
        async with self.pool.acquire() as conn:
            self.metrics.episodes_open.set(await repo.count_open_episodes(conn))

    async def deliver_one(self) -> bool:
        """Claim and handle one due job; False when none is due."""
        async with self.pool.acquire() as conn, conn.transaction():
            job = await repo.claim_due_job(conn, self.clock.now())
            if job is None:
                return False
            await self._deliver(conn, dict(job))
        if self.wake_relay is not None:
            self.wake_relay()
        return True

    async def _deliver(self, conn: asyncpg.Connection, job: dict[str, Any]) -> None:
        episode = await repo.lock_episode(conn, job["episode_id"]) if job["episode_id"] else None
        if why := compose.unwanted(job, episode):
            await repo.finish_job(
                conn, job["id"], state="cancelled", attempts=job["attempts"], at=self.clock.now(), error=why
            )
            return
        contact = await repo.contact(conn, job["user_id"]) if job["user_id"] else None
        subject = episode["subject"] if episode else (job["data"] or {}).get("subject")
        hijacked = isinstance(subject, str) and await repo.hijack_reported(conn, subject)
        to = compose.recipient(job, episode, contact, hijack_reported=hijacked, config=self.config)
        if to is None:
            await self._failed(conn, job, stage="recipient", result=SendResult("failed", None, "no address"))
            return
        link = None
        if job["user_id"]:
            try:
                link = await self.links.mint(job["user_id"], to.lang)
            except LinkUnavailable as exc:
                await self._retry(conn, job, stage="link", result=SendResult("retry", None, str(exc)))
                return
        message_id = message_id_for(str(job["id"]), self.config.mail_from)
        try:
            draft = compose.draft(
                job, episode, to, link_url=link, config=self.config, hijack_reported=hijacked
            )
            rendered = self.templates.render(draft.topic, to.lang, draft.context)
            message = build_message(
                rendered,
                mail_from=self.config.mail_from,
                to=to.address,
                to_name=to.name,
                message_id=message_id,
                date=self.clock.now(),
                lang=to.lang,
                extra_headers=draft.headers,
            )
        except Exception as exc:  # a template mistake: keep the job, retry after the fix is deployed
            log.exception("email_render_failed", **self._log_fields(job))
            await self._retry(conn, job, stage="render", result=SendResult("retry", None, type(exc).__name__))
            return
        result = await self.sender.send(message)
        if result.outcome == "sent":
            await self._sent(conn, job, episode, to, message_id)
        elif result.outcome == "retry":
            await self._retry(conn, job, stage="smtp", result=result, recipient=to.address)
        else:
            await self._failed(conn, job, stage="smtp", result=result, recipient=to.address)

    async def _sent(
        self,
        conn: asyncpg.Connection,
        job: dict[str, Any],
        episode: Any,
        to: compose.Recipient,
        message_id: str,
    ) -> None:
        now, attempt = self.clock.now(), job["attempts"] + 1
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
        if job["kind"] in compose.EPISODE_KINDS and episode is not None:
            await self._schedule_reminder(conn, job, episode, now)
        await outbox.add(conn, m.NotificationSent(**self._event_fields(job)))
        self.metrics.emails.labels(job["kind"], "sent").inc()
        log.info("email_sent", **self._log_fields(job), attempt=attempt, recipient_source=to.source)

    async def _schedule_reminder(
        self, conn: asyncpg.Connection, job: dict[str, Any], episode: Any, now: Any
    ) -> None:
        sequence = job["sequence"]
        await repo.record_episode_email(conn, episode["id"], sequence, now)
        alert_sent_at = now if sequence == 0 else episode["alert_sent_at"]
        due = domain.reminder_due(alert_sent_at, sequence, self.config.reminder_offsets)
        if due is None or episode["reminders_stopped_at"] is not None:
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

    async def _retry(
        self,
        conn: asyncpg.Connection,
        job: dict[str, Any],
        *,
        stage: str,
        result: SendResult,
        recipient: str | None = None,
    ) -> None:
        now, attempt = self.clock.now(), job["attempts"] + 1
        decision = domain.after_temporary_failure(
            attempts=attempt,
            max_attempts=self.config.delivery_max_attempts,
            delays=self.config.delivery_retry_delays,
            now=now,
        )
        if decision.give_up:
            await self._failed(conn, job, stage=stage, result=result, recipient=recipient, permanent=False)
            return
        assert decision.due_at is not None
        await self._log_unsent(
            conn, job, "retry", attempt=attempt, at=now, stage=stage, result=result, recipient=recipient
        )
        await repo.reschedule_job(
            conn, job["id"], attempts=attempt, due_at=decision.due_at, error=result.detail
        )
        self.metrics.emails.labels(job["kind"], "retry").inc()
        log.warning(
            "email_deferred",
            **self._log_fields(job),
            stage=stage,
            attempt=attempt,
            error=result.detail,
            retry_at=decision.due_at.isoformat(),
        )

    async def _failed(
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
        await self._log_unsent(
            conn, job, "failed", attempt=attempt, at=now, stage=stage, result=result, recipient=recipient
        )
        await repo.finish_job(conn, job["id"], state="failed", attempts=attempt, at=now, error=result.detail)
        error = f"{stage}: {result.detail}"
        await outbox.add(
            conn, m.NotificationFailed(**self._event_fields(job), error=error, permanent=permanent)
        )
        self.metrics.emails.labels(job["kind"], "failed").inc()
        log.warning(
            "email_failed", **self._log_fields(job), stage=stage, error=result.detail, permanent=permanent
        )

    async def _log_unsent(
        self,
        conn: asyncpg.Connection,
        job: dict[str, Any],
        outcome: str,
        *,
        attempt: int,
        at: datetime,
        stage: str,
        result: SendResult,
        recipient: str | None,
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
            recipient=recipient,
        )

    @staticmethod
    def _event_fields(job: dict[str, Any]) -> dict[str, Any]:
        episode_id: uuid.UUID | None = job["episode_id"]
        return {
            "notification_id": str(job["id"]),
            "user_id": job["user_id"],
            "kind": job["kind"],
            "reason": job["reason"],
            "episode_id": str(episode_id) if episode_id else None,
        }

    @staticmethod
    def _log_fields(job: dict[str, Any]) -> dict[str, Any]:
        return {
            "job_id": str(job["id"]),
            "kind": job["kind"],
            "reason": job["reason"],
            "user_id": job["user_id"],
        }
