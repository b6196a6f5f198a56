"""The channel keeper's rounds (docs/google.md §9, docs/sync.md): one watch channel per connected
user's destination calendar once its initial sync is done, renewed before it expires (the new one
first, then the old one stopped), stopped when the user picks another calendar, and stopped with
the deleted grant's own token after ``grant.deleted`` (marked by ``usecases/grants``), which then tells auth (``channels.stopped``)
that the grant may be revoked. Rounds are serialised across replicas by an advisory lock."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import structlog

from services.sync.adapters import channels
from services.sync.adapters.auth_tokens import AuthTokens, TokenAnswer
from services.sync.adapters.google_calendar import WatchChannels
from services.sync.adapters.metrics import SyncMetrics
from services.sync.config import ChannelConfig
from services.sync.domain.push import token_hash
from shared import messages as m
from shared.clock import Clock
from shared.db import transaction
from shared.google.calendar import GoogleApiError, GoogleTransportError
from shared.outbox import Outbox

log = structlog.get_logger(__name__)

ROUND_LOCK = 0x63616C7379_6368  # pg advisory lock key of the keeper's round
WATCH_RETRY = timedelta(minutes=5)  # a calendar whose watch failed is tried again after this
UNCONFIRMED = timedelta(minutes=10)  # a watch with no answer by then is taken as lost
TRANSIENT_STATUS = 500
GoogleFailure = (GoogleApiError, GoogleTransportError)


@dataclass(frozen=True)
class ChannelDeps:
    pool: asyncpg.Pool
    tokens: AuthTokens
    google: WatchChannels
    clock: Clock
    config: ChannelConfig
    outbox: Outbox
    metrics: SyncMetrics


async def keep(deps: ChannelDeps) -> bool:
    """One round, unless another replica runs one now; True when it did a full batch of work and
    more may be waiting (the keeper then runs the next round at once)."""
    async with deps.pool.acquire() as lock_conn:
        if not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", ROUND_LOCK):
            return False
        try:
            return await _round(deps)
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", ROUND_LOCK)


async def _round(deps: ChannelDeps) -> bool:
    now = deps.clock.now()
    await channels.abandon_unconfirmed(deps.pool, now - UNCONFIRMED, now)
    await channels.retire_switched(deps.pool)
    created = 0
    due: list[asyncpg.Record] = []
    if deps.config.webhook_url is not None:
        due = await channels.due_for_watch(
            deps.pool, now + deps.config.renew_before, now - WATCH_RETRY, deps.config.batch
        )
        for row in due:
            created += await _create(deps, row["user_id"], row["calendar_id"], row["grant_id"])
    stopping, settled = await _stop_pending(deps)
    batch = deps.config.batch
    return (len(due) == batch and created > 0) or (stopping == batch and settled > 0)


async def _create(deps: ChannelDeps, user_id: str, calendar_id: str, grant_id: str | None) -> bool:
    """Watch the calendar; False when no token could be had (the calendar stays due)."""
    answer = await deps.tokens.token(user_id)
    if answer.access_token is None:
        return False
    channel_id, secret = str(uuid.uuid4()), secrets.token_urlsafe(32)
    await channels.insert_creating(
        deps.pool, channel_id, user_id, calendar_id, grant_id, token_hash(secret), deps.clock.now()
    )
    try:
        resource_id, expires_at = await deps.google.watch(
            answer.access_token, calendar_id, channel_id, secret
        )
    except GoogleFailure as exc:
        await channels.settle(deps.pool, channel_id, deps.clock.now(), at_google=False, reason="watch_failed")
        if isinstance(exc, GoogleApiError) and exc.status == 401:
            deps.tokens.forget(user_id)
        deps.metrics.channels.labels("watch_failed").inc()
        log.warning("channel_watch_failed", user_id=user_id, error=str(exc))
        return True
    async with transaction(deps.pool) as conn:
        await channels.store_watched(conn, channel_id, resource_id, expires_at)
        await channels.retire_renewed(conn, user_id, calendar_id, channel_id)
    deps.metrics.channels.labels("created").inc()
    log.info("channel_created", user_id=user_id, channel_id=channel_id, expires_at=expires_at.isoformat())
    return True


async def _stop_pending(deps: ChannelDeps) -> tuple[int, int]:
    """Stop the channels marked stopping: a deleted grant's with its own token, then tell auth.
    Returns how many were up for stopping, and how many of them were settled."""
    answers: dict[tuple[str, str | None], TokenAnswer] = {}
    grants: set[tuple[str, str]] = set()
    rows = await channels.stopping(deps.pool, deps.config.batch)
    settled = 0
    for row in rows:
        deleted = row["stop_reason"] == "grant_deleted"
        key = (row["user_id"], row["grant_id"] if deleted else None)
        if key not in answers:
            answers[key] = await _token(deps, row["user_id"], key[1])
        settled += await _stop_one(deps, row, answers[key])
        if deleted:
            grants.add((row["user_id"], row["grant_id"]))
    for user_id, grant_id in sorted(grants):
        await _report_deleted_grant(deps, user_id, grant_id)
    return len(rows), settled


async def _token(deps: ChannelDeps, user_id: str, deleted_grant: str | None) -> TokenAnswer:
    if deleted_grant is None:
        return await deps.tokens.token(user_id)
    return await deps.tokens.deleted_grant_token(user_id, deleted_grant)


async def _stop_one(deps: ChannelDeps, row: asyncpg.Record, answer: TokenAnswer) -> bool:
    """Stop one channel at Google; False when it is left for a later round."""
    channel_id, now = row["channel_id"], deps.clock.now()
    if answer.status == "temporarily_unavailable":
        return False  # the next round asks again
    if answer.access_token is None or row["resource_id"] is None:
        await channels.settle(deps.pool, channel_id, now, at_google=False)
        deps.metrics.channels.labels("abandoned").inc()
        log.info("channel_abandoned", user_id=row["user_id"], channel_id=channel_id, token=answer.status)
        return True
    try:
        await deps.google.stop(answer.access_token, channel_id, row["resource_id"])
    except GoogleFailure as exc:
        if isinstance(exc, GoogleTransportError) or exc.status >= TRANSIENT_STATUS or exc.status == 429:
            deps.metrics.channels.labels("stop_failed").inc()
            log.warning("channel_stop_failed", user_id=row["user_id"], channel_id=channel_id, error=str(exc))
            return False  # tried again next round
        await channels.settle(deps.pool, channel_id, now, at_google=False)
        deps.metrics.channels.labels("abandoned").inc()
        log.warning("channel_abandoned", user_id=row["user_id"], channel_id=channel_id, error=str(exc))
        return True
    await channels.settle(deps.pool, channel_id, now, at_google=True)
    deps.metrics.channels.labels("stopped").inc()
    log.info("channel_stopped", user_id=row["user_id"], channel_id=channel_id, reason=row["stop_reason"])
    return True


async def _report_deleted_grant(deps: ChannelDeps, user_id: str, grant_id: str) -> None:
    """Once none of the deleted grant's channels is left to stop, auth hears how it ended."""
    async with transaction(deps.pool) as conn:
        outcome = await channels.deleted_grant_outcome(conn, user_id, grant_id)
        if outcome is None:
            return
        stopped, abandoned = outcome
        message = m.ChannelsStopped(user_id=user_id, grant_id=grant_id, stopped=stopped, abandoned=abandoned)
        await deps.outbox.add(conn, message)
    log.info(
        "channels_stopped_reported", user_id=user_id, grant_id=grant_id, stopped=stopped, abandoned=abandoned
    )
