"""The consumer rules every service follows, for each delivery from a work queue.

* Undecodable or schema-invalid messages, and handlers raising ``Reject``, go straight to the
  queue's dead-letter queue with the reason in the ``x-calsync-reason`` header.
* Any other exception is transient: the message is re-published to a delay queue (growing delays
  from the config) and dead-lettered with its reason once the delays are used up.
* With a ``pool``, the handler runs inside a database transaction that first records
  ``(consumer, message_id)`` in ``processed_messages``; a redelivered message finds its row and has
  no second effect. The message is acked only after that transaction commits.
* If even that outcome cannot be recorded (the broker went away), the message is returned to its
  queue after a growing pause; the quorum queue's delivery limit bounds the returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage
from structlog.contextvars import bound_contextvars

from shared import messages as m
from shared import topology as t
from shared.logs import scrub

if TYPE_CHECKING:
    from shared.amqp import Broker

log = structlog.get_logger(__name__)

Handler = Callable[[m.Message, "Delivery"], Awaitable[None]]


class Reject(Exception):
    """Raised by a handler for a message that can never succeed; it is dead-lettered with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Delivery:
    """What a handler may know about the delivery besides the message itself."""

    queue: str
    attempt: int
    redelivered: bool
    headers: dict[str, Any]
    reply_to: str | None = None
    correlation_id: str | None = None
    conn: asyncpg.Connection | None = None


class Consumer:
    """Applies the rules above to the deliveries of one queue."""

    def __init__(self, broker: Broker, queue: str, handler: Handler, pool: asyncpg.Pool | None) -> None:
        self._broker = broker
        self.queue, self.handler, self.pool = queue, handler, pool

    async def on_message(self, incoming: AbstractIncomingMessage) -> None:
        """Handle one delivery; it is acked once its outcome is safely recorded, or returned."""
        queue, handler, pool = self.queue, self.handler, self.pool
        headers = dict(incoming.headers or {})
        attempt = _attempt(headers)
        with bound_contextvars(message_id=incoming.message_id, queue=queue, attempt=attempt):
            try:
                outcome = await self._outcome(queue, incoming, headers, attempt, handler, pool)
                await incoming.ack()
            except Exception:  # the outcome could not be recorded (e.g. the broker went away)
                outcome = "returned"
                await self._give_back(incoming)
            self._broker.metrics.consumed.labels(queue, outcome).inc()
            log.info("message_processed", outcome=outcome, type=incoming.type)

    async def _give_back(self, incoming: AbstractIncomingMessage) -> None:
        """Return the message to its queue after a growing pause (not in a hot loop); the quorum
        queue's delivery limit finally dead-letters it through the broker."""
        returned = int(str((incoming.headers or {}).get("x-delivery-count", 0) or 0))
        log.exception("message_returned", times_returned=returned)
        await asyncio.sleep(min(30.0, self._broker.return_backoff * 2**returned))
        with contextlib.suppress(Exception):  # a closed channel returns it anyway
            await incoming.nack(requeue=True)

    async def _outcome(
        self,
        queue: str,
        incoming: AbstractIncomingMessage,
        headers: dict[str, Any],
        attempt: int,
        handler: Handler,
        pool: asyncpg.Pool | None,
    ) -> str:
        """Handle the message; returns ok/duplicate/retry/dead once that outcome is safely recorded."""
        try:
            message = m.decode(incoming.body)
            delivery = Delivery(
                queue,
                attempt,
                bool(incoming.redelivered),
                headers,
                reply_to=incoming.reply_to,
                correlation_id=incoming.correlation_id,
            )
            return await self._handle(queue, message, delivery, handler, pool)
        except m.InvalidMessage as exc:
            await self._dead_letter(queue, incoming, f"invalid message: {exc}")
        except Reject as exc:
            await self._dead_letter(queue, incoming, f"rejected: {exc.reason}")
        except Exception as exc:  # transient by default; bounded by the retry delays
            return await self._retry_or_dead(queue, incoming, attempt, exc)
        return "dead"

    async def _handle(
        self,
        queue: str,
        message: m.Message,
        delivery: Delivery,
        handler: Handler,
        pool: asyncpg.Pool | None,
    ) -> str:
        if pool is None:
            await handler(message, delivery)
            return "ok"
        async with pool.acquire() as conn, conn.transaction():
            first = await conn.fetchval(
                "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true",
                queue,
                message.message_id,
            )
            if not first:
                return "duplicate"
            delivery.conn = conn
            await handler(message, delivery)
        return "ok"

    async def _retry_or_dead(
        self, queue: str, incoming: AbstractIncomingMessage, attempt: int, exc: Exception
    ) -> str:
        reason = scrub(f"{type(exc).__name__}: {exc}")[:500]
        if attempt > len(self._broker.retry_delays_ms):
            await self._dead_letter(queue, incoming, f"gave up after {attempt} attempts: {reason}")
            return "dead"
        delay = self._broker.retry_delays_ms[attempt - 1]
        log.warning("message_retry_scheduled", delay_ms=delay, error=reason)
        await self._forward(
            t.RETRY_EXCHANGE,
            f"{queue}.{delay}",
            incoming,
            {
                "x-calsync-attempt": attempt + 1,
                "x-calsync-last-error": reason,
            },
        )
        return "retry"

    async def _dead_letter(self, queue: str, incoming: AbstractIncomingMessage, reason: str) -> None:
        log.warning("message_dead_lettered", reason=reason)
        await self._forward(
            t.DEAD_EXCHANGE,
            queue,
            incoming,
            {
                "x-calsync-reason": reason[:1000],
                "x-calsync-queue": queue,
                "x-calsync-original-exchange": incoming.exchange or "",
                "x-calsync-original-routing-key": incoming.routing_key or "",
            },
        )

    async def _forward(
        self, exchange: str, routing_key: str, incoming: AbstractIncomingMessage, extra: dict[str, Any]
    ) -> None:
        headers = {**(incoming.headers or {}), **extra}
        await self._broker.publish_raw(
            exchange,
            routing_key,
            incoming.body,
            message_id=incoming.message_id or uuid.uuid4().hex,
            message_type=incoming.type,
            headers=headers,
            reply_to=incoming.reply_to,
            correlation_id=incoming.correlation_id,
        )


def _attempt(headers: dict[str, Any]) -> int:
    """The delivery attempt from our header; anything unreadable counts as a first attempt."""
    try:
        return max(1, int(str(headers.get("x-calsync-attempt", 1))))
    except ValueError:
        return 1
