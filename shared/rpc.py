"""Request/reply over AMQP: ``serve`` answers requests from a queue, ``RpcClient`` asks and waits.

Replies go to the request's ``reply_to`` queue (an exclusive, auto-deleted queue per client) with
the request's ``correlation_id``. A failing handler is not retried: the caller has timed out by then.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from shared import messages as m
from shared.amqp import Broker
from shared.consumer import Delivery, Reject

log = structlog.get_logger(__name__)

RpcHandler = Callable[[m.Message], Awaitable[m.Message]]


async def serve(broker: Broker, queue: str, handler: RpcHandler, *, prefetch: int = 50) -> None:
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
            await broker.publish_raw(
                "",
                delivery.reply_to,
                answer.to_json(),
                message_id=answer.message_id,
                message_type=answer.TYPE,
                correlation_id=delivery.correlation_id,
            )
        except aio_pika.exceptions.PublishError:
            log.info("rpc_reply_undeliverable")  # the caller has gone away

    await broker.consume(queue, reply, prefetch=prefetch)


class RpcClient:
    """Request/reply over AMQP with an exclusive, auto-deleted reply queue and a call timeout."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._futures: dict[str, asyncio.Future[m.Message]] = {}
        self._queue: AbstractQueue | None = None

    async def start(self) -> None:
        channel = await self._broker.channel(prefetch=100)
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
