"""Request/reply over AMQP: ``serve`` answers requests from a queue, ``RpcClient`` asks and waits.

Replies go to the request's ``reply_to`` with the request's ``correlation_id``, and only if that is a
reply queue: a client's exclusive, auto-deleted ``<prefix>rpc.reply.<32 hex>`` queue or RabbitMQ's
direct reply-to (``amq.rabbitmq.reply-to``). A request naming any other queue (a work queue, a
dead-letter queue) is dead-lettered without an answer, so a reply (an access token) never lands in a
queue someone else can read. With publisher verification the consumer contract has already refused
requests from anyone but the documented publisher, and ``RpcClient`` accepts replies only from the
serving service's broker user. Each accepted request is answered in its own task (``RpcServer``), so
slow answers never hold the queue's prefetch slots. A failing handler is not retried: the caller has
timed out by then.

A request carries the moment its caller stops waiting (``x-calsync-answer-by-ms``, Unix milliseconds
as an integer: AMQP tables carry floats in single precision) rather than a broker TTL: an expired
message in a work queue is dead-lettered by RabbitMQ, so every request made while the server was down
would end in its dead-letter queue. The server acks a request whose moment has passed unanswered.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from shared import messages as m
from shared.amqp import Broker
from shared.consumer import Delivery, Reject

log = structlog.get_logger(__name__)

RpcHandler = Callable[[m.Message], Awaitable[m.Message]]

REPLY_QUEUE_PREFIX = "rpc.reply."
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
ANSWER_BY = "x-calsync-answer-by-ms"  # header: Unix milliseconds after which the caller no longer waits
_REPLY_QUEUE_ID = re.compile(r"[0-9a-f]{32}")


def reply_queue_name(prefix: str) -> str:
    """A new reply queue name under ``prefix``: ``<prefix>rpc.reply.<32 hex digits>``."""
    return f"{prefix}{REPLY_QUEUE_PREFIX}{uuid.uuid4().hex}"


def is_reply_queue(reply_to: str, prefix: str) -> bool:
    """Whether ``reply_to`` follows the reply-queue naming rule under ``prefix``, or is direct reply-to
    (which the broker hands to consumers as ``amq.rabbitmq.reply-to.<channel key>``)."""
    if reply_to == DIRECT_REPLY_TO or reply_to.startswith(DIRECT_REPLY_TO + "."):
        return True
    head = prefix + REPLY_QUEUE_PREFIX
    return reply_to.startswith(head) and _REPLY_QUEUE_ID.fullmatch(reply_to[len(head) :]) is not None


class RpcServer:
    """Answers taken requests in their own tasks, so a delivery is acked (and its prefetch slot freed)
    as soon as the request is accepted: requests that wait, e.g. on one grant's refresh, never hold the
    consumer's capacity for others. At most ``max_in_flight`` answers run at once (then taking new
    requests waits), and at most ``max_publishing`` replies are being published at once, so a burst
    of answers never queues a thousand confirms on the channel. A request taken but not answered when
    the process dies is lost; its caller times out and asks again."""

    def __init__(
        self,
        broker: Broker,
        request: type[m.Message],
        handler: RpcHandler,
        *,
        max_in_flight: int,
        max_publishing: int,
    ) -> None:
        self._broker, self._request, self._handler = broker, request, handler
        self._slots = asyncio.Semaphore(max_in_flight)
        self._publishing = asyncio.Semaphore(max_publishing)
        self._tasks: set[asyncio.Task[None]] = set()

    async def take(self, message: m.Message, delivery: Delivery) -> None:
        """The consumer's handler: check the type and ``reply_to``, then answer in a task of its own."""
        if not isinstance(message, self._request):
            raise Reject(f"unexpected message type {message.TYPE!r}: this queue takes {self._request.TYPE!r}")
        reply_to = delivery.reply_to or ""
        if not is_reply_queue(reply_to, self._broker.prefix):
            raise Reject(f"reply_to {reply_to[:100]!r} is not a reply queue")
        if _too_late(delivery.headers.get(ANSWER_BY)):
            log.info("rpc_request_stale")  # its caller has given up; acked without an answer
            return
        await self._slots.acquire()
        task = asyncio.create_task(self._answer(message, reply_to, delivery.correlation_id))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _answer(self, message: m.Message, reply_to: str, correlation_id: str | None) -> None:
        try:
            answer = await self._handler(message)
            async with self._publishing:
                await self._broker.publish_raw(
                    "",
                    reply_to,
                    answer.to_json(),
                    message_id=answer.message_id,
                    message_type=answer.TYPE,
                    correlation_id=correlation_id,
                )
        except aio_pika.exceptions.PublishError:
            log.info("rpc_reply_undeliverable")  # the caller has gone away
        except Exception:  # the caller times out; a late retry would help nobody
            log.exception("rpc_handler_failed")

    async def close(self) -> None:
        """Cancel the answers still running (their callers time out) and wait for them to end."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _too_late(answer_by: object) -> bool:
    """Whether the caller's answer-by moment (an integer, if the request has one) has passed."""
    return isinstance(answer_by, int) and not isinstance(answer_by, bool) and answer_by < time.time() * 1000


async def serve(
    broker: Broker,
    queue: str,
    request: type[m.Message],
    handler: RpcHandler,
    *,
    prefetch: int = 50,
    max_in_flight: int = 1000,
) -> RpcServer:
    """Serve request/reply for messages of type ``request``: the handler's answer goes to the
    request's ``reply_to`` if that is a reply queue; a message of another type, or naming any other
    queue, is dead-lettered before the handler runs. ``close()`` the returned server on shutdown."""
    server = RpcServer(broker, request, handler, max_in_flight=max_in_flight, max_publishing=prefetch)
    await broker.consume(queue, server.take, prefetch=prefetch)
    return server


class RpcClient:
    """Request/reply over AMQP with an exclusive, auto-deleted reply queue and a call timeout.

    ``replier`` is the service that answers (``auth`` for token requests); with publisher verification
    a reply whose broker ``user_id`` is not that service's user is dropped."""

    def __init__(self, broker: Broker, *, replier: str = "auth") -> None:
        self._broker = broker
        self._replier = broker.users.of(replier)
        self._futures: dict[str, asyncio.Future[m.Message]] = {}
        self._queue: AbstractQueue | None = None

    async def start(self) -> None:
        name = reply_queue_name(self._broker.prefix)

        async def attach(channel: AbstractChannel) -> None:
            self._queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
            await self._queue.consume(self._on_reply, no_ack=True)

        await self._broker.consumer_channel("rpc replies", 100, attach)

    async def _on_reply(self, incoming: AbstractIncomingMessage) -> None:
        if self._broker.users.verify and incoming.user_id != self._replier:
            log.warning("rpc_reply_untrusted", publisher=incoming.user_id or "")
            return
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
                headers={ANSWER_BY: int((time.time() + timeout) * 1000)},
            )
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._futures.pop(correlation_id, None)
