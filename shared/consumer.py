"""The consumer contract every service follows, for each delivery from a work queue.

A service consumes a queue with a routing table, ``broker.consume(queue, routes, pool=pool)``::

    routes: Routes = {
        m.UserDeleted: on_user_deleted,                    # any documented publisher
        m.TokenRequested: Route(on_token, publishers={users.sync}),  # explicit broker users
    }

    async def on_user_deleted(message: m.UserDeleted, conn: asyncpg.Connection, delivery: Delivery) -> None

* The consumer opens a transaction (``shared.db.transaction``) that first records
  ``(queue, message_id)`` in ``processed_messages``; a redelivered message finds its row and has no
  second effect. The handler gets that transaction's connection; ``after_commit`` callbacks run once
  it commits, and the message is acked only after that.
* A decoded message whose type has no route is dead-lettered at once with the reason
  ``no route for message type '<type>' on <queue>``.
* With publisher verification on (``BrokerUsers.verify``), a message whose broker-checked ``user_id``
  is missing or not among the route's publishers (by default: the documented publisher of the
  message's exchange, ``topology.PUBLISHER_OF``) is dead-lettered at once with the reason
  ``untrusted publisher '<user_id>' for <type>``.
* Undecodable or schema-invalid messages, and handlers raising ``Reject``, go straight to the
  queue's dead-letter queue with the reason in the ``x-calsync-reason`` header. Dead-lettered copies
  never carry a ``reply_to`` (a replay must not send a token anywhere).
* Any other exception is transient: the message is re-published to a delay queue (growing delays
  from the config) and dead-lettered with its reason once the delays are used up.
* If even that outcome cannot be recorded (the broker went away), the message is returned to its
  queue after a growing pause; the quorum queue's delivery limit bounds the returns.

A plain ``handler(message, delivery)`` instead of a routing table is still accepted for now (RPC and
services not yet converted): it gets every message, and ``delivery.conn`` when a pool is given.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aio_pika.abc import AbstractIncomingMessage
from structlog.contextvars import bound_contextvars

from shared import messages as m
from shared import topology as t
from shared.db import transaction
from shared.forwarding import Bus, Forwarder

log = structlog.get_logger(__name__)

Handler = Callable[[Any, asyncpg.Connection, "Delivery"], Awaitable[None]]
LegacyHandler = Callable[[m.Message, "Delivery"], Awaitable[None]]


class Reject(Exception):
    """Raised by a handler for a message that can never succeed; it is dead-lettered with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Route:
    """A handler and the broker users allowed to publish its message type (``None``: the documented
    publisher of the message's exchange). Publishers are checked only with verification on."""

    handler: Handler
    publishers: frozenset[str] | set[str] | None = None

    def __post_init__(self) -> None:
        if self.publishers is not None:
            object.__setattr__(self, "publishers", frozenset(self.publishers))


Routes = Mapping[type[m.Message], Handler | Route]


@dataclass
class Delivery:
    """What a handler may know about the delivery besides the message itself."""

    queue: str
    attempt: int
    redelivered: bool
    headers: dict[str, Any]
    reply_to: str | None = None
    correlation_id: str | None = None
    publisher: str = ""  # the broker user that published the message ('' if it did not say)
    conn: asyncpg.Connection | None = None  # legacy handlers only; routed handlers get it as an argument


class _Dead(Exception):
    """This delivery goes to the dead-letter queue at once, with ``reason``."""


class Consumer:
    """Applies the rules above to the deliveries of one queue."""

    def __init__(
        self,
        bus: Bus,
        queue: str,
        routes: Routes | LegacyHandler,
        pool: asyncpg.Pool | None,
    ) -> None:
        self._bus, self.queue, self.pool = bus, queue, pool
        self._forwarder = Forwarder(bus, queue)
        self._routes: dict[type[m.Message], Route] | None = None
        self._legacy: LegacyHandler | None = None
        if isinstance(routes, Mapping):
            if pool is None:
                raise ValueError(f"consuming {queue} with a routing table needs a pool")
            self._routes = {kind: r if isinstance(r, Route) else Route(r) for kind, r in routes.items()}
        else:
            self._legacy = routes

    async def on_message(self, incoming: AbstractIncomingMessage) -> None:
        """Handle one delivery; it is acked once its outcome is safely recorded, or returned."""
        headers = dict(incoming.headers or {})
        attempt = _attempt(headers)
        with bound_contextvars(message_id=incoming.message_id, queue=self.queue, attempt=attempt):
            try:
                outcome = await self._outcome(incoming, headers, attempt)
                await incoming.ack()
            except Exception:  # noqa: BLE001 - the outcome could not be recorded (e.g. the broker went away)
                outcome = "returned"
                await self._give_back(incoming)
            self._bus.count_consumed(self.queue, outcome)
            log.info("message_processed", outcome=outcome, type=incoming.type)

    async def _give_back(self, incoming: AbstractIncomingMessage) -> None:
        """Return the message to its queue after a growing pause (not in a hot loop); the quorum
        queue's delivery limit finally dead-letters it through the broker."""
        returned = int(str((incoming.headers or {}).get("x-delivery-count", 0) or 0))
        log.exception("message_returned", times_returned=returned)
        await asyncio.sleep(min(30.0, self._bus.return_backoff * 2**returned))
        with contextlib.suppress(Exception):  # a closed channel returns it anyway
            await incoming.nack(requeue=True)

    async def _outcome(self, incoming: AbstractIncomingMessage, headers: dict[str, Any], attempt: int) -> str:
        """Handle the message; returns ok/duplicate/retry/dead once that outcome is safely recorded."""
        delivery = Delivery(
            self.queue,
            attempt,
            bool(incoming.redelivered),
            headers,
            reply_to=incoming.reply_to,
            correlation_id=incoming.correlation_id,
            publisher=self._forwarder.publisher(incoming),
        )
        forward = self._forwarder
        try:
            message = m.decode(incoming.body)
            route = self._route(message, delivery)
            return await self._handle(message, delivery, route)
        except _Dead as exc:
            await forward.dead_letter(incoming, str(exc))
        except m.InvalidMessage as exc:
            await forward.dead_letter(incoming, f"invalid message: {exc}")
        except Reject as exc:
            await forward.dead_letter(incoming, f"rejected: {exc.reason}")
        except Exception as exc:  # noqa: BLE001 - transient by default; bounded by the retry delays
            return await forward.retry_or_dead(incoming, attempt, exc)
        return "dead"

    def _route(self, message: m.Message, delivery: Delivery) -> Route | None:
        """The message's route (``None`` for a legacy handler); raises ``_Dead`` if its publisher is
        not trusted or it has no route. The publisher is judged first, so a forged message is named
        as such even when its type does not belong on this queue."""
        route = self._routes.get(type(message)) if self._routes is not None else None
        users = self._bus.users
        if users.verify:
            allowed = route.publishers if route is not None else None
            if allowed is None:
                documented = t.PUBLISHER_OF.get(message.EXCHANGE)
                allowed = {users.of(documented)} if documented else set()
            if not delivery.publisher or delivery.publisher not in allowed:
                raise _Dead(f"untrusted publisher '{delivery.publisher}' for {message.TYPE}")
        if self._routes is not None and route is None:
            raise _Dead(f"no route for message type '{message.TYPE}' on {self.queue}")
        return route

    async def _handle(self, message: m.Message, delivery: Delivery, route: Route | None) -> str:
        if self.pool is None:
            assert self._legacy is not None  # routing tables always come with a pool
            await self._legacy(message, delivery)
            return "ok"
        async with transaction(self.pool) as conn:
            first = await conn.fetchval(
                "INSERT INTO processed_messages (consumer, message_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true",
                self.queue,
                message.message_id,
            )
            if not first:
                return "duplicate"
            if route is not None:
                await route.handler(message, conn, delivery)
            else:
                assert self._legacy is not None
                delivery.conn = conn
                await self._legacy(message, delivery)
        return "ok"


def _attempt(headers: dict[str, Any]) -> int:
    """The delivery attempt from our header; anything unreadable counts as a first attempt."""
    try:
        return max(1, int(str(headers.get("x-calsync-attempt", 1))))
    except ValueError:
        return 1
