"""Send one due email: claim the job (FOR UPDATE SKIP LOCKED), send it, record the outcome.

One attempt is three steps, so that no transaction is open while auth or the SMTP server answers:
1. claim: lock a due job (and its episode), drop it if no longer wanted, else commit it as
   ``sending`` (when, and by which worker and attempt);
2. outside any transaction: mint the link, render, mark ``smtp_started_at``, talk to the SMTP server;
3. record the outcome (``delivery_outcomes``) in a second transaction, if the attempt is still ours.
Temporary failures (auth unreachable, 4xx, connection errors) go back to ``pending`` with backoff
from ``clock.now()``; permanent ones (5xx; no address, an unusable address or display name, or a
header value with line breaks, checked before any SMTP attempt by ``domain.addresses``) are recorded,
counted by reason and published as ``notification.failed``. Every attempt goes into ``delivery_log``.

A job left in ``sending`` longer than the SMTP timeout plus ``DELIVERY_STALE_MARGIN`` (measured on
the database's clock) belonged to a worker that died or lost the database. If it never reached the
SMTP server it is simply tried again; if it did, the server may have accepted the email (a crash
between the 250 reply and step 3), so it is recorded as ``maybe_sent``, counted and logged, and
NOT sent again: better to miss an email than to send a second alert in the same episode.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import asyncpg
import structlog

from services.notifier.adapters import job_queue, repository
from services.notifier.adapters.auth_links import AuthLinks, LinkUnavailable
from services.notifier.adapters.metrics import Metrics
from services.notifier.adapters.rendering import Templates
from services.notifier.adapters.smtp import SendResult, SmtpSender, build_message, message_id_for
from services.notifier.domain import addresses, emails
from services.notifier.usecases.delivery_outcomes import DeliveryPolicy, Outcomes, Unsent, log_fields
from shared.clock import Clock
from shared.db import transaction

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryDeps:
    """Everything one attempt needs, built once in the composition root."""

    pool: asyncpg.Pool
    clock: Clock
    emails: emails.EmailSettings
    policy: DeliveryPolicy
    templates: Templates
    sender: SmtpSender
    links: AuthLinks
    metrics: Metrics
    outcomes: Outcomes


@dataclass(frozen=True)
class Attempt:
    """A job committed as ``sending`` by ``owner``, with what it needs to compose the email."""

    job: dict[str, Any]
    episode: dict[str, Any] | None
    to: emails.Recipient
    hijacked: bool
    owner: str


async def refresh_gauge(deps: DeliveryDeps) -> None:
    """Set the open-episodes gauge from the database."""
    async with deps.pool.acquire() as conn:
        deps.metrics.episodes_open.set(await repository.count_open_episodes(conn))


async def deliver_one(deps: DeliveryDeps, *, worker: str) -> bool:
    """Settle one stale attempt, or claim and handle one due job; False when there is neither."""
    if not await settle_stale_attempt(deps):
        async with transaction(deps.pool) as conn:
            job = await job_queue.claim_due_job(conn, deps.clock.now())
            if job is None:
                return False
            attempt = await _begin(deps, conn, dict(job), worker=worker)
        if attempt is not None:
            await _attempt(deps, attempt)
    return True


async def settle_stale_attempt(deps: DeliveryDeps) -> bool:
    """Finish one job whose worker died mid-attempt: ``maybe_sent`` once SMTP began, else retry."""
    async with transaction(deps.pool) as conn:
        row = await job_queue.claim_stale_attempt(conn, stale_after=deps.policy.stale_after)
        if row is None:
            return False
        job = dict(row)
        episode = await repository.lock_episode(conn, job["episode_id"]) if job["episode_id"] else None
        if job["smtp_started_at"] is None:
            await deps.outcomes.interrupted(conn, job)
        else:
            await deps.outcomes.maybe_sent(conn, job, episode)
    return True


async def _begin(
    deps: DeliveryDeps, conn: asyncpg.Connection, job: dict[str, Any], *, worker: str
) -> Attempt | None:
    """Step 1, in the claim transaction: drop an unwanted job, or mark it ``sending``."""
    episode = await repository.lock_episode(conn, job["episode_id"]) if job["episode_id"] else None
    if why := emails.unwanted(job, episode):
        await deps.outcomes.cancelled(conn, job, why)
        return None
    contact = await repository.contact(conn, job["user_id"]) if job["user_id"] else None
    subject = episode["subject"] if episode else (job["data"] or {}).get("subject")
    hijacked = isinstance(subject, str) and await repository.hijack_reported(conn, subject)
    to = emails.recipient(job, episode, contact, hijack_reported=hijacked, settings=deps.emails)
    problem = addresses.recipient_problem(to.address, to.name) if to else "no_address"
    if to is None or problem:
        await _refuse(deps, conn, job, problem or "no_address")
        return None
    owner = f"{worker}/{uuid.uuid4().hex[:8]}"
    await job_queue.mark_sending(conn, job["id"], by=owner)
    return Attempt(job, dict(episode) if episode else None, to, hijacked, owner)


async def _refuse(deps: DeliveryDeps, conn: asyncpg.Connection, job: dict[str, Any], reason: str) -> None:
    """Fail the job at once: nobody can ever be emailed at this recipient (no SMTP attempt is made)."""
    result = SendResult("failed", None, addresses.UNUSABLE[reason])
    await deps.outcomes.failed(conn, job, Unsent("recipient", result), reason=reason)


async def _attempt(deps: DeliveryDeps, attempt: Attempt) -> None:
    """Step 2, outside any transaction: compose and send; then step 3, record the outcome."""
    message = await _compose(deps, attempt)
    if message is None:
        return
    async with deps.pool.acquire() as conn:
        if not await job_queue.mark_smtp_started(conn, attempt.job["id"], by=attempt.owner):
            log.warning("email_attempt_taken_over", **log_fields(attempt.job), sending_by=attempt.owner)
            return
    result = await deps.sender.send(message)
    await _record(deps, attempt, result, stage="smtp")


async def _compose(deps: DeliveryDeps, attempt: Attempt) -> EmailMessage | None:
    """The email with a freshly minted link; None (and a retry recorded) if that is not possible."""
    job, to = attempt.job, attempt.to
    link = None
    if job["user_id"]:
        try:
            link = await deps.links.mint(job["user_id"], to.lang)
        except LinkUnavailable as exc:
            await _record(deps, attempt, SendResult("retry", None, str(exc)), stage="link")
            return None
    try:
        return _render(deps, attempt, link)
    except UnsafeHeader as exc:  # the same values every time: no retry can help
        result = SendResult("failed", None, addresses.UNUSABLE[exc.reason])
        await _record(deps, attempt, result, stage="render", reason=exc.reason)
        return None
    except Exception as exc:  # a template mistake: keep the job, retry after the fix is deployed
        log.exception("email_render_failed", **log_fields(job))
        await _record(deps, attempt, SendResult("retry", None, type(exc).__name__), stage="render")
        return None


class UnsafeHeader(Exception):
    """A rendered header value that would break the message's headers (see ``domain.addresses``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _render(deps: DeliveryDeps, attempt: Attempt, link: str | None) -> EmailMessage:
    job, to = attempt.job, attempt.to
    draft = emails.draft(
        job, attempt.episode, to, link_url=link, settings=deps.emails, hijack_reported=attempt.hijacked
    )
    rendered = deps.templates.render(draft.topic, to.lang, draft.context)
    if reason := addresses.header_problem({"Subject": rendered.subject, **draft.headers}):
        raise UnsafeHeader(reason)
    return build_message(
        rendered,
        mail_from=deps.policy.mail_from,
        to=to.address,
        to_name=to.name,
        message_id=message_id_for(str(job["id"]), deps.policy.mail_from),
        date=deps.clock.now(),
        lang=to.lang,
        extra_headers=draft.headers,
    )


async def _record(
    deps: DeliveryDeps, attempt: Attempt, result: SendResult, *, stage: str, reason: str = "smtp_rejected"
) -> None:
    """Step 3: the outcome, in its own transaction, unless the attempt was taken over meanwhile."""
    job, outcomes = attempt.job, deps.outcomes
    recipient = attempt.to.address if stage == "smtp" else None
    async with transaction(deps.pool) as conn:
        if not await job_queue.lock_own_attempt(conn, job["id"], by=attempt.owner):
            log.warning("email_outcome_not_recorded", **log_fields(job), outcome=result.outcome)
            return
        episode = await repository.lock_episode(conn, job["episode_id"]) if job["episode_id"] else None
        if result.outcome == "sent":
            await outcomes.sent(conn, job, episode, attempt.to)
        elif result.outcome == "retry":
            await outcomes.retry(conn, job, Unsent(stage, result, recipient))
        else:
            await outcomes.failed(conn, job, Unsent(stage, result, recipient), reason=reason)
