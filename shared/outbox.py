"""Transactional outbox: events are saved with the state change and relayed to RabbitMQ afterwards.

Each service builds one ``Outbox(clock)`` in its composition root and hands it to ``base_app``,
which attaches the relay once it runs. ``outbox.add(conn, message)`` inserts the event in the
caller's transaction, stamped with the service's clock, and wakes the relay after that transaction
commits (``shared.db.after_commit``; outside ``db.transaction`` the relay is woken at once and
finds the row at its next poll). ``OutboxRelay`` claims unsent rows with
``FOR UPDATE SKIP LOCKED`` (so replicas share the work), publishes each with a broker confirm and
marks it sent in the same transaction. A crash between commit and publish leaves the row unsent and
it is published after restart; a crash between publish and marking sent gives at most a duplicate,
which consumers drop by ``message_id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import asyncpg
import structlog
from aiohttp import web

from shared import messages as m
from shared.amqp import Broker
from shared.clock import Clock
from shared.db import after_commit

log = structlog.get_logger(__name__)


async def add(
    conn: asyncpg.Connection,
    message: m.Message,
    *,
    routing_key: str | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """Save ``message`` for publication when the surrounding transaction commits (prefer ``Outbox.add``).

    ``occurred_at`` stamps the message with the service's clock (instead of the wall clock)."""
    if occurred_at is not None:
        message = message.model_copy(update={"occurred_at": occurred_at})
    await conn.execute(
        "INSERT INTO outbox (message_id, exchange, routing_key, message_type, body)"
        " VALUES ($1, $2, $3, $4, $5)",
        message.message_id,
        message.EXCHANGE,
        routing_key or message.ROUTING_KEY,
        message.TYPE,
        message.to_json(),
    )


class Outbox:
    """The service's outbox: ``add`` events in a transaction; the attached relay publishes them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._relay: OutboxRelay | None = None

    def attach(self, relay: OutboxRelay) -> None:
        """Wake ``relay`` after each commit that added events (done by ``relay_context``)."""
        self._relay = relay

    def wake(self) -> None:
        """Have the relay look for unsent events now (nothing before a relay is attached)."""
        if self._relay is not None:
            self._relay.wake()

    async def add(
        self, conn: asyncpg.Connection, message: m.Message, *, routing_key: str | None = None
    ) -> None:
        """Save ``message`` (``occurred_at`` = the clock's now) in ``conn``'s open transaction."""
        await add(conn, message, routing_key=routing_key, occurred_at=self._clock.now())
        after_commit(self.wake)


class OutboxRelay:
    """Publishes committed outbox rows; ``wake()`` after a commit shortens the wait."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: Broker,
        *,
        poll_interval: float = 0.2,
        batch_size: int = 100,
        keep_sent: timedelta = timedelta(days=7),
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._keep_sent = keep_sent
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Relay forever; transient failures back off and try again."""
        failures = 0
        polls = 0
        while True:
            self._wake.clear()  # a wake() during this pass makes the next wait end at once
            try:
                sent = await self.relay_once()
                failures = 0
            except (asyncpg.PostgresError, OSError, TimeoutError, RuntimeError) as exc:
                failures += 1
                sent = 0
                log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}")
            except Exception:
                failures += 1
                sent = 0
                log.exception("outbox_relay_failed")
            polls += 1
            if polls % 3000 == 0:
                await self._purge()
            if sent == self._batch_size:
                continue
            delay = min(30.0, self._poll_interval * (2**failures)) if failures else self._poll_interval
            await self._wait(delay)

    async def _wait(self, seconds: float) -> None:
        """Wait for ``wake()`` or ``seconds``; unlike ``wait_for`` on 3.11 this never swallows a cancel."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, message_id, exchange, routing_key, message_type, body FROM outbox"
                " WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            sent: list[int] = []
            failure: Exception | None = None
            for row in rows:
                try:
                    await self._broker.publish_raw(
                        row["exchange"],
                        row["routing_key"],
                        bytes(row["body"]),
                        message_id=row["message_id"],
                        message_type=row["message_type"],
                    )
                except Exception as exc:  # noqa: BLE001 - keep what was confirmed; the rest waits for the next try
                    failure = exc
                    break
                sent.append(row["id"])
            if sent:
                await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", sent)
        if failure is not None:
            raise failure
        return len(sent)

    async def _purge(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("DELETE FROM outbox WHERE sent_at < now() - $1::interval", self._keep_sent)
            await conn.execute(
                "DELETE FROM processed_messages WHERE processed_at < now() - interval '30 days'"
            )


def relay_context(
    pool_key: web.AppKey[asyncpg.Pool],
    broker_key: web.AppKey[Broker],
    relay_key: web.AppKey[OutboxRelay],
    *,
    poll_interval: float,
    outbox: Outbox | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context running the relay as a background task (attached to ``outbox``)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(app[pool_key], app[broker_key], poll_interval=poll_interval)
        app[relay_key] = relay
        if outbox is not None:
            outbox.attach(relay)
        task = asyncio.create_task(relay.run(), name="outbox-relay")
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return ctx
