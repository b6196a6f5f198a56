"""RabbitMQ adapter: the connection, topology declaration, and confirmed publishing.

Publishing uses publisher confirms on a channel where unroutable messages raise (except on
exchanges whose consumers live outside calsync); on quorum queues a confirm means a majority of the
queue's replicas stored the message. The URL may list several nodes of one cluster, comma-separated
(``shared.config.amqp_addresses``): the connection uses the first that answers and, when its node
goes away, moves to a surviving one, where topology and consumers are restored. Every message
carries the connection's broker user as ``user_id``, which RabbitMQ checks, so consumers can tell
who published it. ``Broker.consume`` applies the consumer contract of ``shared.consumer``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, Unpack
from urllib.parse import unquote, urlsplit

import aio_pika
import asyncpg
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractRobustConnection,
)
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from aio_pika.robust_connection import RobustConnection
from aiormq import exceptions as amqp_errors
from prometheus_client import CollectorRegistry, Counter
from yarl import URL

from shared import messages as m
from shared import topology as t
from shared.config import BrokerUsers, amqp_addresses
from shared.consumer import Consumer, LegacyHandler, Routes
from shared.forwarding import Properties

log = structlog.get_logger(__name__)

T = TypeVar("T")

# A start-up step that fails with one of these lost its connection (a node died, a network cut):
# it is run again once the connection is back. Refused logins and missing or clashing entities are
# configuration errors and end the start at once.
_CONNECTION_LOST = (
    ConnectionError,
    OSError,
    TimeoutError,
    amqp_errors.AMQPError,
    amqp_errors.ChannelInvalidStateError,
)
_PERMANENT = (
    amqp_errors.AuthenticationError,
    amqp_errors.ProbableAuthenticationError,
    amqp_errors.IncompatibleProtocolError,
    amqp_errors.ChannelAccessRefused,
    amqp_errors.ChannelNotFoundEntity,
    amqp_errors.ChannelPreconditionFailed,
    amqp_errors.ChannelLockedResource,
)
START_STEP_TIMEOUT = 15.0  # seconds one start-up step may take before it counts as lost
CONNECT_TIMEOUT = 10.0  # seconds for one connection attempt to one address


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


# aio-pika's one connection attempt (private, pinned in uv.lock): _FailoverConnection wraps it to try
# each address in turn. Checked at import so that an aio-pika upgrade that renames it fails loudly.
_ATTEMPT = "_RobustConnection__connect_transport"
if not hasattr(RobustConnection, _ATTEMPT):  # pragma: no cover - only after an aio-pika upgrade
    raise ImportError(f"aio_pika.RobustConnection has no {_ATTEMPT}: review shared.amqp._FailoverConnection")
_attempt_one: Callable[[RobustConnection], Awaitable[None]] = getattr(RobustConnection, _ATTEMPT)


class _FailoverConnection(RobustConnection):
    """A robust connection over the nodes of one cluster: the first connect tries them in order, a
    reconnect starts with the node after the one it lost. aio-pika's own loop does the rest (waits
    ``reconnect_interval`` between rounds, then restores channels, topology and consumers)."""

    addresses: tuple[URL, ...] = ()

    async def _RobustConnection__connect_transport(self) -> None:
        count = len(self.addresses)
        current = self.addresses.index(self.url) if self.url in self.addresses else 0
        first = (current + (1 if self.connection_attempt else 0)) % count
        failure: BaseException | None = None
        for step in range(count):
            self.url = self.addresses[(first + step) % count]
            try:
                await _attempt_one(self)
                return
            except CONNECTION_EXCEPTIONS as exc:
                failure = exc
                log.warning("broker_address_failed", address=str(self), error=type(exc).__name__)
        raise failure or ConnectionError("no broker address to connect to")


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
        users: BrokerUsers | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        self.url = url
        self.addresses = amqp_addresses(url)
        self.user = unquote(urlsplit(self.addresses[0]).username or "") or "guest"
        self.users = users or BrokerUsers()
        self.prefix = prefix
        self.retry_delays_ms = tuple(retry_delays_ms)
        self.name = name
        self.publish_timeout = publish_timeout
        self.return_backoff = return_backoff
        self.start_timeout = start_timeout  # seconds start-up may spend waiting for a lost connection
        self.metrics = _Metrics(registry)
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
        """Connect to the first broker address that answers; while none does, try again for up to
        ``start_timeout`` seconds (a refused login ends it at once)."""
        attempt_timeout = CONNECT_TIMEOUT * len(self.addresses) + 5
        self._connection = await self.starting("connect", self._first_connection, timeout=attempt_timeout)
        self._publish_channel = await self.starting("publish channel", self._open_publish_channel)
        self._channels.append(self._publish_channel)

    async def _first_connection(self) -> AbstractRobustConnection:
        urls = tuple(URL(address) for address in self.addresses)
        connection = _FailoverConnection(
            urls[0], client_properties={"connection_name": self.name}, reconnect_interval=2
        )
        connection.addresses = urls
        connection.reconnect_callbacks.add(self._on_reconnect)
        try:
            await connection.connect(timeout=CONNECT_TIMEOUT)
        except BaseException:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await connection.close()
            raise
        return connection

    async def _open_publish_channel(self) -> AbstractChannel:
        return await self._live().channel(publisher_confirms=True, on_return_raises=True)

    async def starting(
        self, step: str, run: Callable[[], Awaitable[T]], *, timeout: float = START_STEP_TIMEOUT
    ) -> T:
        """Run one start-up step on the broker; if the connection drops meanwhile (its node died), run
        it again once aio-pika has reconnected, for up to ``start_timeout`` seconds in all. What the
        earlier steps made is restored by aio-pika itself."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        for attempt in range(1, 1_000_000):
            try:
                async with asyncio.timeout(timeout):
                    return await run()
            except _PERMANENT:
                raise
            except _CONNECTION_LOST as exc:
                if loop.time() >= deadline:
                    raise ConnectionError(
                        f"broker start-up step '{step}' failed for {self.start_timeout:.0f} s"
                    ) from exc
                log.warning("broker_start_step_retried", step=step, attempt=attempt, error=type(exc).__name__)
                await self._reconnected(min(0.1 * attempt, 2.0), deadline)
        raise AssertionError("unreachable")

    async def _reconnected(self, pause: float, deadline: float) -> None:
        """After ``pause`` (aio-pika may not have seen the loss yet), until the connection is back."""
        await asyncio.sleep(pause)
        if self._connection is None:  # not connected yet: the next attempt connects
            return
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await self._connection.connected.wait()

    def _on_reconnect(self, connection: AbstractRobustConnection | None) -> None:
        log.info("broker_reconnected", address=str(connection))

    @property
    def address(self) -> str:
        """The broker address in use now (password masked), or "" before ``connect``."""
        return str(self._connection) if self._connection is not None else ""

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

    def _live(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("Broker.connect() was not called")
        return self._connection

    async def declare(self, queues: Iterable[str] = ()) -> None:
        """Declare every exchange, and the given work queues with their retry and dead queues (again,
        from the start, if the connection drops meanwhile: declarations are idempotent)."""
        names = tuple(queues)
        await self.starting("declare topology", lambda: self._declare(names))

    async def _declare(self, queues: Iterable[str]) -> None:
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
        # Retry and dead queues are quorum queues too: a classic queue lives on one node, and while
        # that node is down it could neither take retries nor be declared again after a failover.
        dead = await channel.declare_queue(
            self.n(t.dead_queue(spec.name)), durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.bind(self.n(t.DEAD_EXCHANGE), spec.name)
        for delay in self.retry_delays_ms:
            retry = await channel.declare_queue(
                self.n(t.retry_queue(spec.name, delay)),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
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
        self, exchange: str, routing_key: str, body: bytes, *, message_id: str, **props: Unpack[Properties]
    ) -> None:
        """Publish persistent ``body``; raises if the broker nacks it or cannot route it."""
        msg = aio_pika.Message(
            body,
            message_id=message_id,
            type=props.get("message_type"),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers=props.get("headers") or {},
            reply_to=props.get("reply_to"),
            correlation_id=props.get("correlation_id"),
            expiration=props.get("expiration"),
            app_id=self.name,
            user_id=self.user,
        )
        target = await self._exchange(exchange)
        async with asyncio.timeout(self.publish_timeout):
            await target.publish(
                msg,
                routing_key=routing_key,
                mandatory=t.routing_required(exchange, routing_key),
                timeout=self.publish_timeout,
            )
        self.metrics.published.labels(exchange or "default").inc()

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
        routes: Routes | LegacyHandler,
        *,
        pool: asyncpg.Pool | None = None,
        prefetch: int = 10,
    ) -> None:
        """Start consuming ``queue`` with a routing table (needs ``pool``) under the contract of
        ``shared.consumer``; a plain ``handler(message, delivery)`` is still accepted for now."""
        consumer = Consumer(self, queue, routes, pool)

        async def attach(channel: AbstractChannel) -> None:
            # A passive declare (not get_queue) registers the queue with the robust channel, so the
            # consumer is restored after a reconnect.
            amqp_queue = await channel.declare_queue(self.n(queue), passive=True)
            await amqp_queue.consume(consumer.on_message)

        await self.consumer_channel(f"consume {queue}", prefetch, attach)

    async def consumer_channel(
        self, step: str, prefetch: int, attach: Callable[[AbstractChannel], Awaitable[None]]
    ) -> AbstractChannel:
        """A new channel with ``attach`` run on it (declare, consume) as a start-up step: if the
        connection drops meanwhile, the half-made channel is closed and both run again on a new one."""

        async def run() -> AbstractChannel:
            channel = self._live().channel()
            try:
                await channel
                await channel.set_qos(prefetch_count=prefetch)
                await attach(channel)
            except BaseException:
                await _discard(channel)
                raise
            return channel

        channel = await self.starting(step, run)
        self._channels.append(channel)
        return channel

    def count_consumed(self, queue: str, outcome: str) -> None:
        self.metrics.consumed.labels(queue, outcome).inc()

    async def channel(self, prefetch: int) -> AbstractChannel:
        """A new channel on the broker connection, kept referenced for the broker's lifetime."""
        if self._connection is None:
            raise RuntimeError("Broker.connect() was not called")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        self._channels.append(channel)
        return channel


async def _discard(channel: AbstractChannel) -> None:
    """Close a channel whose start-up step failed, so aio-pika does not restore it half-made."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(2):
            await channel.close()
