"""The delivery worker: claims due email jobs (FOR UPDATE SKIP LOCKED), sends them, records the outcome.

One attempt is three steps, so that no transaction is open while auth or the SMTP server answers:
1. claim: lock a due job (and its episode), drop it if no longer wanted, else commit it as
   ``sending`` (when, and by which worker and attempt);
2. outside any transaction: mint the link, render, mark ``smtp_started_at``, talk to the SMTP server;
3. record the outcome (``outcomes``) in a second transaction, if the attempt is still this worker's.
Temporary failures (auth unreachable, 4xx, connection errors) go back to ``pending`` with backoff
from ``clock.now()``; permanent ones (5xx, no address) are recorded and published as
``notification.failed``. Every attempt goes into ``delivery_log``.

A job left in ``sending`` longer than the SMTP timeout plus ``DELIVERY_STALE_MARGIN`` (measured on
the database's clock) belonged to a worker that died or lost the database. If it never reached the
SMTP server it is simply tried again; if it did, the server may have accepted the email (a crash
between the 250 reply and step 3), so it is recorded as ``maybe_sent``, counted and logged, and
NOT sent again: better to miss an email than to send a second alert in the same episode.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import asyncpg
import structlog

from services.notifier import compose
from services.notifier import repository as repo
from services.notifier.config import NotifierConfig
from services.notifier.links import AuthLinks, LinkUnavailable
from services.notifier.outcomes import Metrics, Outcomes, log_fields
from services.notifier.rendering import Templates
from services.notifier.senders import SendResult, SmtpSender, build_message, message_id_for
from shared.clock import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Attempt:
    """A job committed as ``sending`` by this worker, with what it needs to compose the email."""

    job: dict[str, Any]
    episode: dict[str, Any] | None
    to: compose.Recipient
    hijacked: bool
    by: str


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
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.outcomes = Outcomes(self.clock, self.config, self.metrics)

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
        """Settle one stale attempt, or claim and handle one due job; False when there is neither."""
        if not await self.settle_stale_attempt():
            async with self.pool.acquire() as conn, conn.transaction():
                job = await repo.claim_due_job(conn, self.clock.now())
                if job is None:
                    return False
                attempt = await self._begin(conn, dict(job))
            if attempt is not None:
                await self._attempt(attempt)
        if self.wake_relay is not None:
            self.wake_relay()
        return True

    async def settle_stale_attempt(self) -> bool:
        """Finish one job whose worker died mid-attempt: ``maybe_sent`` once SMTP began, else retry."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await repo.claim_stale_attempt(conn, stale_after=self.config.sending_stale_after)
            if row is None:
                return False
            job = dict(row)
            episode = await repo.lock_episode(conn, job["episode_id"]) if job["episode_id"] else None
            if job["smtp_started_at"] is None:
                await self.outcomes.interrupted(conn, job)
            else:
                await self.outcomes.maybe_sent(conn, job, episode)
        return True

    async def _begin(self, conn: asyncpg.Connection, job: dict[str, Any]) -> Attempt | None:
        """Step 1, in the claim transaction: drop an unwanted job, or mark it ``sending``."""
        episode = await repo.lock_episode(conn, job["episode_id"]) if job["episode_id"] else None
        if why := compose.unwanted(job, episode):
            await self.outcomes.cancelled(conn, job, why)
            return None
        contact = await repo.contact(conn, job["user_id"]) if job["user_id"] else None
        subject = episode["subject"] if episode else (job["data"] or {}).get("subject")
        hijacked = isinstance(subject, str) and await repo.hijack_reported(conn, subject)
        to = compose.recipient(job, episode, contact, hijack_reported=hijacked, config=self.config)
        if to is None:
            result = SendResult("failed", None, "no address")
            await self.outcomes.failed(conn, job, stage="recipient", result=result)
            return None
        by = f"{self.name}/{uuid.uuid4().hex[:8]}"
        await repo.mark_sending(conn, job["id"], by=by)
        return Attempt(job, dict(episode) if episode else None, to, hijacked, by)

    async def _attempt(self, attempt: Attempt) -> None:
        """Step 2, outside any transaction: compose and send; then step 3, record the outcome."""
        message = await self._compose(attempt)
        if message is None:
            return
        async with self.pool.acquire() as conn:
            if not await repo.mark_smtp_started(conn, attempt.job["id"], by=attempt.by):
                log.warning("email_attempt_taken_over", **log_fields(attempt.job), sending_by=attempt.by)
                return
        result = await self.sender.send(message)
        await self._record(attempt, result, stage="smtp")

    async def _compose(self, attempt: Attempt) -> EmailMessage | None:
        """The email with a freshly minted link; None (and a retry recorded) if that is not possible."""
        job, to = attempt.job, attempt.to
        link = None
        if job["user_id"]:
            try:
                link = await self.links.mint(job["user_id"], to.lang)
            except LinkUnavailable as exc:
                await self._record(attempt, SendResult("retry", None, str(exc)), stage="link")
                return None
        try:
            return self._render(attempt, link)
        except Exception as exc:  # a template mistake: keep the job, retry after the fix is deployed
            log.exception("email_render_failed", **log_fields(job))
            await self._record(attempt, SendResult("retry", None, type(exc).__name__), stage="render")
            return None

    def _render(self, attempt: Attempt, link: str | None) -> EmailMessage:
        job, to = attempt.job, attempt.to
        draft = compose.draft(
            job, attempt.episode, to, link_url=link, config=self.config, hijack_reported=attempt.hijacked
        )
        rendered = self.templates.render(draft.topic, to.lang, draft.context)
        return build_message(
            rendered,
            mail_from=self.config.mail_from,
            to=to.address,
            to_name=to.name,
            message_id=message_id_for(str(job["id"]), self.config.mail_from),
            date=self.clock.now(),
            lang=to.lang,
            extra_headers=draft.headers,
        )

    async def _record(self, attempt: Attempt, result: SendResult, *, stage: str) -> None:
        """Step 3: the outcome, in its own transaction, unless the attempt was taken over meanwhile."""
        job = attempt.job
        recipient = attempt.to.address if stage == "smtp" else None
        async with self.pool.acquire() as conn, conn.transaction():
            if not await repo.lock_own_attempt(conn, job["id"], by=attempt.by):
                log.warning("email_outcome_not_recorded", **log_fields(job), outcome=result.outcome)
                return
            episode = await repo.lock_episode(conn, job["episode_id"]) if job["episode_id"] else None
            if result.outcome == "sent":
                await self.outcomes.sent(conn, job, episode, attempt.to)
            elif result.outcome == "retry":
                await self.outcomes.retry(conn, job, stage=stage, result=result, recipient=recipient)
            else:
                await self.outcomes.failed(conn, job, stage=stage, result=result, recipient=recipient)
