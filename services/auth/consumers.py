"""auth's AMQP consumers: the token request/reply for sync, and platform user deletion."""

from __future__ import annotations

import structlog

from services.auth import service
from services.auth.refresh import Refresher, TokenAnswer
from shared import messages as m
from shared.clock import Clock
from shared.consumer import Delivery, Reject

log = structlog.get_logger(__name__)

UNAVAILABLE_RETRY_AFTER = 5.0


async def answer_token_request(r: Refresher, message: m.Message) -> m.TokenReply:
    """A valid access token for the user, or a typed reason why not; refresh tokens never leave auth."""
    if not isinstance(message, m.TokenRequested):
        raise Reject(f"unexpected message type {message.TYPE}")
    try:
        answer = await r.get_access_token(message.user_id, force_refresh=message.force_refresh)
    except Exception:
        log.exception("token_request_failed", user_id=message.user_id)
        answer = TokenAnswer("temporarily_unavailable", "error", retry_after=UNAVAILABLE_RETRY_AFTER)
    r.metrics.token_answers.labels(answer.status).inc()
    return m.TokenReply(
        user_id=message.user_id,
        status=answer.status,  # type: ignore[arg-type]
        access_token=answer.access_token if answer.status == "token" else None,
        expires_at=answer.expires_at if answer.status == "token" else None,
        reason=answer.reason,
        retry_after=answer.retry_after,
    )


async def on_user_event(clock: Clock, message: m.Message, delivery: Delivery) -> None:
    """platform.user.deleted: forget everything about the user (inside the consumer's transaction)."""
    if not isinstance(message, m.UserDeleted):
        return
    assert delivery.conn is not None
    await service.forget_user(delivery.conn, message.user_id, clock=clock)
