"""auth's AMQP entry points, started by app.py: the token request/reply for sync
(usecases/answer_token_request.py), the platform's user events and sync's events, each a routing table
from message type to handler (``user_event_routes``, ``sync_event_routes``, the last things here).
"""

from __future__ import annotations

import asyncpg
import structlog

from services.auth.domain.token_answers import TokenAnswer
from services.auth.usecases import connection, revoke_tokens
from services.auth.usecases.answer_token_request import (
    GrantLocks,
    answer_for_deleted_grant,
    answer_token_request,
)
from services.auth.usecases.deps import RefreshDeps
from shared import messages as m
from shared.clock import Clock
from shared.consumer import Delivery, Reject, Routes
from shared.db import AfterCommit, after_commit
from shared.outbox import Outbox

log = structlog.get_logger(__name__)

UNAVAILABLE_RETRY_AFTER = 5.0


async def on_token_request(deps: RefreshDeps, locks: GrantLocks, message: m.Message) -> m.TokenReply:
    """A valid access token for the user, or a typed reason why not; refresh tokens never leave auth."""
    if not isinstance(message, m.TokenRequested):
        raise Reject(f"unexpected message type {message.TYPE}")
    try:
        if message.for_deleted_grant is not None:
            answer = await answer_for_deleted_grant(deps, message.user_id, message.for_deleted_grant)
        else:
            answer = await answer_token_request(
                deps, locks, message.user_id, force_refresh=message.force_refresh
            )
    except Exception:  # sync is told to ask again rather than left waiting
        log.exception("token_request_failed", user_id=message.user_id)
        answer = TokenAnswer("temporarily_unavailable", "error", retry_after=UNAVAILABLE_RETRY_AFTER)
    deps.metrics.token_answers.labels(answer.status).inc()
    return m.TokenReply(
        user_id=message.user_id,
        status=answer.status,  # type: ignore[arg-type]
        access_token=answer.access_token if answer.status == "token" else None,
        expires_at=answer.expires_at if answer.status == "token" else None,
        reason=answer.reason,
        retry_after=answer.retry_after,
    )


def user_event_routes(outbox: Outbox, clock: Clock, *, hold: float, wake: AfterCommit) -> Routes:
    """``auth.user_events``: what each platform user event does (inside the consumer's transaction);
    any other type is dead-lettered by the consumer. ``hold``: REVOKE_HOLD_SECONDS; ``wake`` starts a
    revocation pass."""

    async def on_user_deleted(message: m.UserDeleted, conn: asyncpg.Connection, _delivery: Delivery) -> None:
        """platform.user.deleted: forget everything about the user (the token's revoke is held)."""
        await connection.forget_user(conn, message.user_id, outbox=outbox, clock=clock, hold=hold)
        after_commit(wake)  # with no hold the revoke is due at once

    return {m.UserDeleted: on_user_deleted}


def sync_event_routes(clock: Clock, *, wake: AfterCommit) -> Routes:
    """``auth.sync_events``: sync's events auth acts on; only sync's broker user is trusted (the
    documented publisher of ``sync.events``)."""

    async def on_channels_stopped(
        message: m.ChannelsStopped, conn: asyncpg.Connection, _delivery: Delivery
    ) -> None:
        """sync.channels.stopped: the deleted grant's held revoke runs now."""
        await revoke_tokens.release_hold(
            conn, user_id=message.user_id, grant_id=message.grant_id, clock=clock, wake=wake
        )

    return {m.ChannelsStopped: on_channels_stopped}
