"""Routing tables: each message type goes to its handler inside the consumer's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from shared import messages as m
from shared.clock import ManualClock
from shared.consumer import Delivery, Routes
from shared.outbox import Outbox
from tests.conftest import Parked
from tests.integration.shared.conftest import QUEUE, QueueBroker, contact, parked_while_next_handled
from tests.support.helpers import eventually


async def test_unrouted_type_is_dead_lettered_and_next_is_processed(
    queue_broker: QueueBroker, messaging_pool: asyncpg.Pool, parked: Parked
) -> None:
    """A message type the queue has no route for is parked with a clear reason; the next one is handled."""
    handled: list[str] = []

    async def on_contact(message: m.UserContactChanged, conn: asyncpg.Connection, delivery: Delivery) -> None:
        handled.append(message.user_id)

    broker = await queue_broker()
    await broker.consume(QUEUE, {m.UserContactChanged: on_contact}, pool=messaging_pool)
    unrouted = m.UserDeleted(user_id="u-gone")
    await broker.publish(unrouted)
    await broker.publish(contact("u-next"))

    dead = await parked_while_next_handled(parked, handled, "u-next", unrouted)
    assert dead.headers["x-calsync-reason"] == f"no route for message type 'user.deleted' on {QUEUE}"


async def test_handler_effect_commits_with_processed_message(
    queue_broker: QueueBroker, messaging_pool: asyncpg.Pool
) -> None:
    """What a handler writes on its connection is committed together with the message's processed row,
    and a failed first attempt leaves no trace of its writes."""
    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    outbox = Outbox(clock)
    attempts: list[int] = []

    async def on_contact(message: m.UserContactChanged, conn: asyncpg.Connection, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        await outbox.add(conn, m.CalendarSelected(user_id=message.user_id, calendar_id="primary"))
        if delivery.attempt == 1:
            raise ConnectionError("smtp server unreachable")  # rolls the write back; retried

    routes: Routes = {m.UserContactChanged: on_contact}
    broker = await queue_broker()
    await broker.consume(QUEUE, routes, pool=messaging_pool)
    sent = contact("u-effect")
    await broker.publish(sent)

    async def committed() -> None:
        rows = await messaging_pool.fetch("SELECT consumer, message_id FROM processed_messages")
        assert [tuple(r) for r in rows] == [(QUEUE, sent.message_id)]
        events = await messaging_pool.fetch("SELECT message_type, body FROM outbox")
        assert [r["message_type"] for r in events] == ["calendar.selected"]
        assert m.decode(bytes(events[0]["body"])).occurred_at == clock.now()

    await eventually(committed)
    assert attempts == [1, 2]
