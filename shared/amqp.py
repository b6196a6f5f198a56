"""RabbitMQ adapter: topology declaration, confirmed publishing, and the consumer loop.

Publishing uses publisher confirms on a channel where unroutable messages raise. Consuming follows
one rule set for every service (see ``Broker.consume``):

* undecodable or schema-invalid messages, and handlers raising ``Reject``, go straight to the
  queue's dead-letter queue with the reason in the ``x-calsync-reason`` header;
* any other exception is treated as transient: the message is re-published to a delay queue
  (growing delays from the config) and dead-lettered with its reason once the delays are used up;
* with a ``pool``, the handler runs inside a database transaction that first records
  ``(consumer, message_id)`` in ``processed_messages``; a redelivered message finds its row and has no
  second effect. The message is acked only after that transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from prometheus_client import CollectorRegistry, Counter
from structlog.contextvars import bound_contextvars

from shared import messages as m
from shared import topology as t
from shared.logs import scrub

log = structlog.get_logger(__name__)

Handler = Callable[[m.Message, "Delivery"], Awaitable[None]]
RpcHandler = Callable[[m.Message], Awaitable[m.Message]]


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


@dataclass
class _Metrics:
    registry: CollectorRegistry | None
    consumed: Counter = field(init=False)
    published: Counter = field(init=False)

    def __post_init__(self) -> None:
        kw: dict[str, Any] = {"registry": self.registry} if self.registry else {"registry": None}
        self.consumed = Counter(
            "calsync_messages_consumed_total",
            "Messages consumed, by queue and outcome",
            ["queue", "outcome"],
            **kw,
        )
        self.published = Counter(
            "calsync_messages_published_total",
            "Messages published with a confirm, by exchange",
            ["exchange"],
            **kw,
        )


class Broker:
    """One robust connection per process: a confirmed publish channel plus consumer channels."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        retry_delays_ms: Iterable[int] = (1_000, 10_000, 60_000),
        name: str = "calsync",
        registry: CollectorRegistry | None = None,
        publish_timeout: float = 10.0,
        return_backoff: float = 1.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.retry_delays_ms = tuple(retry_delays_ms)
        self.name = name
        self.publish_timeout = publish_timeout
        self.return_backoff = return_backoff
        self._metrics = _Metrics(registry)
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._channels: list[AbstractChannel] = []  # strong references (aio-pika keeps weak ones)
        self._exchanges: dict[str, AbstractExchange] = {}
        self._publish_lock = asyncio.Lock()

    # ------------------------------------------------------------------ connection and topology

    def n(self, name: str) -> str:
        """The broker-side name of an exchange or queue (with this broker's prefix)."""
        return f"{self.prefix}{name}" if name else name

    async def connect(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": self.name}, timeout=10, reconnect_interval=2
        )
        self._publish_channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        self._channels.append(self._publish_channel)

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    async def close(self) -> None:
        if self._connection is not None:
            await asyncio.wait_for(self._connection.close(), 10)
            self._connection = None

    def _channel(self) -> AbstractChannel:
        if self._publish_channel is None:
            raise RuntimeError("Broker.connect() was not called")
        return self._publish_channel

    async def declare(self, queues: Iterable[str] = ()) -> None:
        """Declare every exchange, and the given work queues with their retry and dead queues."""
        channel = self._channel()
        for name, kind in t.EXCHANGES.items():
            self._exchanges[name] = await channel.declare_exchange(self.n(name), type=kind, durable=True)
        for queue in queues:
            await self._declare_queue(channel, t.QUEUES[queue])

    async def _declare_queue(self, channel: AbstractChannel, spec: t.QueueSpec) -> None:
        name = self.n(spec.name)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": t.DELIVERY_LIMIT,
                "x-dead-letter-exchange": self.n(t.DEAD_EXCHANGE),
                "x-dead-letter-routing-key": spec.name,
            },
        )
        for key in spec.routing_keys:
            await queue.bind(self.n(spec.exchange), key)
        dead = await channel.declare_queue(self.n(t.dead_queue(spec.name)), durable=True)
        await dead.bind(self.n(t.DEAD_EXCHANGE), spec.name)
        for delay in self.retry_delays_ms:
            retry = await channel.declare_queue(
                self.n(t.retry_queue(spec.name, delay)),
                durable=True,
                arguments={
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                },
            )
            await retry.bind(self.n(t.RETRY_EXCHANGE), f"{spec.name}.{delay}")

    async def delete_topology(self, queues: Iterable[str] | None = None) -> None:
        """Delete this prefix's queues and exchanges (tests; never with an empty prefix)."""
        if not self.prefix:
            raise RuntimeError("refusing to delete the unprefixed production topology")
        channel = await self._connection.channel() if self._connection else None
        if channel is None:
            return
        names = list(t.QUEUES) if queues is None else list(queues)
        for queue in names:
            for q in (queue, t.dead_queue(queue), *(t.retry_queue(queue, d) for d in self.retry_delays_ms)):
                await channel.queue_delete(self.n(q))
        for exchange in t.EXCHANGES:
            await channel.exchange_delete(self.n(exchange))
        await channel.close()

    # ------------------------------------------------------------------ publishing

    async def publish(self, message: m.Message, *, routing_key: str | None = None, **properties: Any) -> None:
        """Publish a contract message to its exchange and wait for the broker's confirm."""
        await self.publish_raw(
            message.EXCHANGE,
            routing_key or message.ROUTING_KEY,
            message.to_json(),
            message_id=message.message_id,
            message_type=message.TYPE,
            **properties,
        )

    async def publish_raw(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        message_type: str | None = None,
        headers: dict[str, Any] | None = None,
        reply_to: str | None = None,
        correlation_id: str | None = None,
        expiration: float | None = None,
    ) -> None:
        """Publish persistent ``body``; raises if the broker nacks it or cannot route it."""
        msg = aio_pika.Message(
            body,
            message_id=message_id,
            type=message_type,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers=headers or {},
            reply_to=reply_to,
            correlation_id=correlation_id,
            expiration=expiration,
            app_id=self.name,
        )
        target = await self._exchange(exchange)
        async with asyncio.timeout(self.publish_timeout):
            await target.publish(
                msg,
                routing_key=routing_key,
                mandatory=exchange not in t.OPTIONAL_ROUTING,
                timeout=self.publish_timeout,
            )
        self._metrics.published.labels(exchange or "default").inc()

    async def _exchange(self, name: str) -> AbstractExchange:
        if not name:
            return self._channel().default_exchange
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel().get_exchange(self.n(name), ensure=False)
        return self._exchanges[name]

    # ------------------------------------------------------------------ consuming

    async def consume(
        self,
        queue: str,
        handler: Handler,
        *,
        pool: asyncpg.Pool | None = None,
        prefetch: int = 10,
    ) -> None:
        """Start consuming ``queue`` with ``handler`` (see the module docstring for the rules)."""
        channel = await self._new_channel(prefetch)
        amqp_queue = await channel.get_queue(self.n(queue), ensure=False)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._process(queue, message, handler, pool)

        await amqp_queue.consume(on_message)

    async def consume_rpc(self, queue: str, handler: RpcHandler, *, prefetch: int = 50) -> None:
        """Serve request/reply: the handler's answer goes to the request's ``reply_to``."""

        async def reply(message: m.Message, delivery: Delivery) -> None:
            try:
                answer = await handler(message)
            except Exception as exc:  # the caller times out; a late retry would help nobody
                log.exception("rpc_handler_failed")
                raise Reject(f"rpc handler failed: {type(exc).__name__}") from exc
            if not delivery.reply_to:
                return
            try:
                await self.publish_raw(
                    "",
                    delivery.reply_to,
                    answer.to_json(),
                    message_id=answer.message_id,
                    message_type=answer.TYPE,
                    correlation_id=delivery.correlation_id,
                )
            except aio_pika.exceptions.PublishError:
                log.info("rpc_reply_undeliverable")  # the caller has gone away

        await self.consume(queue, reply, prefetch=prefetch)

    async def _new_channel(self, prefetch: int) -> AbstractChannel:
        if self._connection is None:
            raise RuntimeError("Broker.connect() was not called")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        self._channels.append(channel)
        return channel

    async def _process(
        self,
        queue: str,
        incoming: AbstractIncomingMessage,
        handler: Handler,
        pool: asyncpg.Pool | None,
    ) -> None:
        headers = dict(incoming.headers or {})
        attempt = _attempt(headers)
        with bound_contextvars(message_id=incoming.message_id, queue=queue, attempt=attempt):
            try:
                outcome = await self._outcome(queue, incoming, headers, attempt, handler, pool)
                await incoming.ack()
            except Exception:  # the outcome could not be recorded (e.g. the broker went away)
                outcome = "returned"
                await self._give_back(incoming)
            self._metrics.consumed.labels(queue, outcome).inc()
            log.info("message_processed", outcome=outcome, type=incoming.type)

    async def _give_back(self, incoming: AbstractIncomingMessage) -> None:
        """Return the message to its queue after a growing pause (not in a hot loop); the quorum
        queue's delivery limit finally dead-letters it through the broker."""
        returned = int(str((incoming.headers or {}).get("x-delivery-count", 0) or 0))
        log.exception("message_returned", times_returned=returned)
        await asyncio.sleep(min(30.0, self.return_backoff * 2**returned))
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
        if attempt > len(self.retry_delays_ms):
            await self._dead_letter(queue, incoming, f"gave up after {attempt} attempts: {reason}")
            return "dead"
        delay = self.retry_delays_ms[attempt - 1]
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
        await self.publish_raw(
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


class RpcClient:
    """Request/reply over AMQP with an exclusive, auto-deleted reply queue and a call timeout."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._futures: dict[str, asyncio.Future[m.Message]] = {}
        self._queue: AbstractQueue | None = None

    async def start(self) -> None:
        channel = await self._broker._new_channel(prefetch=100)
        self._queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await self._queue.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, incoming: AbstractIncomingMessage) -> None:
        future = self._futures.pop(incoming.correlation_id or "", None)
        if future is None or future.done():
            return
        try:
            future.set_result(m.decode(incoming.body))
        except m.InvalidMessage as exc:
            future.set_exception(exc)

    async def call(self, request: m.Message, *, timeout: float = 10.0) -> m.Message:
        """Send ``request`` and wait for its reply; raises ``TimeoutError`` after ``timeout`` s."""
        if self._queue is None:
            raise RuntimeError("RpcClient.start() was not called")
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[m.Message] = asyncio.get_running_loop().create_future()
        self._futures[correlation_id] = future
        try:
            await self._broker.publish(
                request,
                reply_to=self._queue.name,
                correlation_id=correlation_id,
                expiration=timeout,
            )
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._futures.pop(correlation_id, None)
