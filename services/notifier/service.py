"""The notifier's use cases for incoming events: remember contacts, open and end episodes, record
which emails are due. Nothing here sends mail: it only records intent (jobs) in the message's
transaction; ``jobs.DeliveryWorker`` sends. See ``domain`` for what an episode is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import structlog

from services.notifier import domain
from services.notifier import repository as repo
from shared import messages as m
from shared.clock import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Policy:
    """The configurable parts of what gets sent."""

    reconnected_email: bool = True
    operator_email: str = ""


async def handle(conn: asyncpg.Connection, event: m.Message, *, clock: Clock, policy: Policy) -> None:
    """Apply one contract message inside the consumer's transaction."""
    if isinstance(event, m.UserContactChanged):
        await record_contact(conn, event)
    elif isinstance(event, m.UserDeleted):
        await forget_user(conn, event.user_id, clock=clock)
    elif (opening := domain.opening_for(event)) is not None:
        await open_episode(conn, opening, clock=clock)
    elif (ending := domain.ending_for(event)) is not None:
        await end_episode(conn, ending, clock=clock, confirm=policy.reconnected_email)
    elif isinstance(event, m.GrantExpiring):
        await announce_expiry(conn, event, clock=clock)
    elif isinstance(event, m.OperatorAlert):
        await alert_operator(conn, event, clock=clock, operator_email=policy.operator_email)
    else:
        log.info("message_ignored", type=event.TYPE)


async def record_contact(conn: asyncpg.Connection, event: m.UserContactChanged) -> None:
    stored = await repo.save_contact(conn, event)
    log.info("contact_recorded" if stored else "contact_change_ignored", user_id=event.user_id)


async def forget_user(conn: asyncpg.Connection, user_id: str, *, clock: Clock) -> None:
    """A deleted user: every pending email is dropped and everything about them is deleted."""
    await repo.forget_user(conn, user_id, clock.now())
    log.info("user_forgotten", user_id=user_id)


async def open_episode(
    conn: asyncpg.Connection, opening: domain.Opening, *, clock: Clock
) -> uuid.UUID | None:
    """Open an episode and record its alert; a duplicate or stale report opens nothing."""
    if await repo.is_forgotten(conn, opening.user_id):
        log.info("problem_for_forgotten_user", user_id=opening.user_id)
        return None
    subject = await repo.lock_subject(conn, opening.subject, opening.user_id)
    if opening.hijacked:
        await repo.mark_hijacked(conn, opening.subject)
    if domain.is_stale(opening.began_at, subject["settled_at"]):
        log.info("problem_report_stale", subject=opening.subject, reason=opening.reason)
        return None
    now = clock.now()
    episode_id = await repo.open_episode(conn, opening, now)
    if episode_id is None:
        log.info("episode_already_open", subject=opening.subject, reason=opening.reason)
        return None
    await repo.add_job(
        conn,
        dedupe_key=f"episode:{episode_id}:alert",
        kind="alert",
        user_id=opening.user_id,
        episode_id=episode_id,
        reason=opening.reason,
        due_at=now,
        now=now,
    )
    if opening.subject.startswith("grant:"):
        await repo.cancel_jobs(conn, user_id=opening.user_id, kind="expiring", reason="grant disconnected")
    log.info("episode_opened", episode_id=str(episode_id), subject=opening.subject, reason=opening.reason)
    return episode_id


async def end_episode(
    conn: asyncpg.Connection, ending: domain.Ending, *, clock: Clock, confirm: bool
) -> None:
    """End the subject's episode (cancelling its pending emails); after a reconnect, confirm it."""
    await repo.lock_subject(conn, ending.subject, ending.user_id)
    await repo.mark_settled(conn, ending.subject, ending.settled_at)
    if ending.subject.startswith("grant:"):
        await repo.cancel_jobs(conn, user_id=ending.user_id, kind="expiring", reason=ending.cause)
    episode = await repo.open_episode_of(conn, ending.subject)
    if episode is None:
        return
    now = clock.now()
    ended = await repo.end_episode(conn, episode["id"], ending.cause, now)
    log.info("episode_ended", episode_id=str(ended["id"]), subject=ending.subject, cause=ending.cause)
    if confirm and ending.confirm and ended["alert_sent_at"] is not None:
        await repo.add_job(
            conn,
            dedupe_key=f"episode:{ended['id']}:reconnected",
            kind="reconnected",
            user_id=ending.user_id,
            episode_id=ended["id"],
            reason=ended["reason"],
            due_at=now,
            now=now,
            data={"google_email": ending.google_email, "subject": ending.subject},
        )


async def announce_expiry(conn: asyncpg.Connection, event: m.GrantExpiring, *, clock: Clock) -> None:
    """One heads-up per grant and end date, unless the grant is already in a problem episode."""
    subject = domain.grant_subject(event.grant_id)
    if await repo.is_forgotten(conn, event.user_id) or await repo.open_episode_of(conn, subject):
        return
    now = clock.now()
    await repo.add_job(
        conn,
        dedupe_key=f"expiring:{event.grant_id}:{event.expires_at.isoformat()}",
        kind="expiring",
        user_id=event.user_id,
        due_at=now,
        now=now,
        data={
            "expires_at": event.expires_at.isoformat(),
            "google_email": event.google_email,
            "subject": subject,
        },
    )
    log.info("expiry_announced", grant_id=event.grant_id)


async def alert_operator(
    conn: asyncpg.Connection, event: m.OperatorAlert, *, clock: Clock, operator_email: str
) -> None:
    """Email the operator once per incident that needs a person (never users)."""
    if event.kind not in domain.OPERATOR_KINDS:
        log.info("operator_alert_noted", incident_id=event.incident_id, kind=event.kind)
        return
    if not operator_email:
        log.warning("operator_alert_without_address", incident_id=event.incident_id, kind=event.kind)
        return
    now = clock.now()
    added = await repo.add_job(
        conn,
        dedupe_key=f"operator:{event.incident_id}",
        kind="operator",
        reason=event.kind,
        due_at=now,
        now=now,
        data={"incident_id": event.incident_id, "error": event.error, "detail": event.detail},
    )
    log.info(
        "operator_alert_recorded" if added else "operator_alert_duplicate", incident_id=event.incident_id
    )


async def stop_reminders(pool: asyncpg.Pool, episode_id: uuid.UUID, *, clock: Clock) -> bool:
    """The user followed the stop link: no more reminders for this episode."""
    async with pool.acquire() as conn, conn.transaction():
        found = await repo.stop_reminders(conn, episode_id, clock.now())
    log.info("reminders_stopped", episode_id=str(episode_id), found=found)
    return found
