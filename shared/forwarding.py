"""Where a consumed message goes when it is not simply acked: a delay queue or the dead-letter queue.

Used by ``shared.consumer``; the copies are published by the consuming service, so they carry its own
broker ``user_id`` and name the original publisher in ``x-calsync-publisher``.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol, TypedDict, Unpack

import structlog
from aio_pika.abc import AbstractIncomingMessage

from shared import topology as t
from shared.config import BrokerUsers
from shared.logs import scrub

log = structlog.get_logger(__name__)

PUBLISHER_HEADER = "x-calsync-publisher"


class Properties(TypedDict, total=False):
    """The optional AMQP properties of one published message (``Bus.publish_raw``)."""

    message_type: str | None
    headers: dict[str, Any] | None
    reply_to: str | None
    correlation_id: str | None
    expiration: float | None


class Bus(Protocol):
    """What a consumer needs from the broker connection (``shared.amqp.Broker``)."""

    @property
    def retry_delays_ms(self) -> tuple[int, ...]: ...

    @property
    def return_backoff(self) -> float: ...

    @property
    def user(self) -> str:
        """The broker user of this connection (the ``user_id`` of everything it publishes)."""
        ...

    @property
    def users(self) -> BrokerUsers: ...

    def count_consumed(self, queue: str, outcome: str) -> None: ...

    async def publish_raw(
        self, exchange: str, routing_key: str, body: bytes, *, message_id: str, **props: Unpack[Properties]
    ) -> None: ...


class Forwarder:
    """Re-publishes deliveries of one queue to its delay queues or its dead-letter queue."""

    def __init__(self, bus: Bus, queue: str) -> None:
        self._bus, self.queue = bus, queue

    def publisher(self, incoming: AbstractIncomingMessage) -> str:
        """The broker user that published the message first ('' if unknown).

        A copy we forwarded ourselves carries our own ``user_id`` (the broker allows nothing else),
        so only then is the original publisher taken from our header."""
        user = incoming.user_id or ""
        if user and user == self._bus.user:
            return str((incoming.headers or {}).get(PUBLISHER_HEADER, user))
        return user

    async def retry_or_dead(self, incoming: AbstractIncomingMessage, attempt: int, exc: Exception) -> str:
        """Schedule the next attempt, or park the message once the delays are used up."""
        reason = scrub(f"{type(exc).__name__}: {exc}")[:500]
        delays = self._bus.retry_delays_ms
        if attempt > len(delays):
            await self.dead_letter(incoming, f"gave up after {attempt} attempts: {reason}")
            return "dead"
        delay = delays[attempt - 1]
        log.warning("message_retry_scheduled", delay_ms=delay, error=reason)
        extra = {"x-calsync-attempt": attempt + 1, "x-calsync-last-error": reason}
        await self._forward(t.RETRY_EXCHANGE, f"{self.queue}.{delay}", incoming, extra, incoming.reply_to)
        return "retry"

    async def dead_letter(self, incoming: AbstractIncomingMessage, reason: str) -> None:
        """Park the message with ``reason``; the copy has no ``reply_to`` (secrets never go there)."""
        log.warning("message_dead_lettered", reason=reason)
        extra = {
            "x-calsync-reason": reason[:1000],
            "x-calsync-queue": self.queue,
            "x-calsync-original-exchange": incoming.exchange or "",
            "x-calsync-original-routing-key": incoming.routing_key or "",
        }
        await self._forward(t.DEAD_EXCHANGE, self.queue, incoming, extra, None)

    async def _forward(
        self,
        exchange: str,
        routing_key: str,
        incoming: AbstractIncomingMessage,
        extra: dict[str, Any],
        reply_to: str | None,
    ) -> None:
        headers = {**(incoming.headers or {}), **extra, PUBLISHER_HEADER: self.publisher(incoming)}
        await self._bus.publish_raw(
            exchange,
            routing_key,
            incoming.body,
            message_id=incoming.message_id or uuid.uuid4().hex,
            message_type=incoming.type,
            headers=headers,
            reply_to=reply_to,
            correlation_id=incoming.correlation_id,
        )
