"""Publisher verification: a consumer accepts a message only from the broker user of its publisher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aio_pika
import asyncpg

from shared import messages as m
from shared.amqp import Broker
from shared.config import BrokerUsers
from shared.consumer import Delivery, Route, Routes
from tests.conftest import TEST_RETRY_DELAYS_MS, Parked
from tests.integration.shared.conftest import QUEUE, QueueBroker, contact, parked_while_next_handled
from tests.support.helpers import eventually

# The test broker connects as guest: here guest plays the platform, the publisher of platform.events.
PLATFORM_IS_GUEST = BrokerUsers(platform="guest", verify=True)
BrokerUser = Callable[[], Awaitable[tuple[str, str]]]


async def test_message_from_another_broker_user_is_dead_lettered_without_reply_to(
    queue_broker: QueueBroker,
    messaging_pool: asyncpg.Pool,
    broker_user: BrokerUser,
    amqp_prefix: str,
    parked: Parked,
) -> None:
    """A platform event published by a user that is not the platform's is parked with the reason and
    without its reply_to; the platform's next event is still handled."""
    handled: list[str] = []

    async def on_contact(message: m.UserContactChanged, conn: asyncpg.Connection, delivery: Delivery) -> None:
        handled.append(message.user_id)

    consumer = await queue_broker(users=PLATFORM_IS_GUEST)
    await consumer.consume(QUEUE, {m.UserContactChanged: on_contact}, pool=messaging_pool)
    intruder_name, intruder_url = await broker_user()
    intruder = Broker(intruder_url, prefix=amqp_prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS)
    await intruder.connect()
    try:
        forged = contact("u-forged")
        await intruder.publish(forged, reply_to="intruders-queue", correlation_id="c-1")
    finally:
        await intruder.close()
    await consumer.publish(contact("u-real"))

    dead = await parked_while_next_handled(parked, handled, "u-real", forged)
    assert (
        dead.headers["x-calsync-reason"] == f"untrusted publisher '{intruder_name}' for user.contact_changed"
    )
    assert dead.reply_to is None


async def test_message_without_user_id_is_dead_lettered(
    queue_broker: QueueBroker,
    messaging_pool: asyncpg.Pool,
    amqp_channel: aio_pika.abc.AbstractChannel,
    amqp_prefix: str,
    parked: Parked,
) -> None:
    """A message that does not say which broker user published it is not trusted."""

    async def on_contact(message: m.UserContactChanged, conn: asyncpg.Connection, delivery: Delivery) -> None:
        raise AssertionError("an unverified message reached its handler")

    consumer = await queue_broker(users=PLATFORM_IS_GUEST)
    await consumer.consume(QUEUE, {m.UserContactChanged: Route(on_contact)}, pool=messaging_pool)
    anonymous = contact("u-anonymous")
    exchange = await amqp_channel.get_exchange(amqp_prefix + m.PLATFORM_EVENTS, ensure=False)
    await exchange.publish(
        aio_pika.Message(anonymous.to_json(), message_id=anonymous.message_id),
        routing_key=anonymous.ROUTING_KEY,
    )
    dead = await parked(QUEUE)
    assert dead[0].headers["x-calsync-reason"] == "untrusted publisher '' for user.contact_changed"


async def test_retried_message_keeps_its_publisher(
    queue_broker: QueueBroker, messaging_pool: asyncpg.Pool, broker_user: BrokerUser
) -> None:
    """A trusted message that fails once comes back through the delay queue (re-published by the
    consumer's own broker user) and is still accepted as the platform's."""
    publishers: list[tuple[int, str]] = []

    async def on_contact(message: m.UserContactChanged, conn: asyncpg.Connection, delivery: Delivery) -> None:
        publishers.append((delivery.attempt, delivery.publisher))
        if delivery.attempt == 1:
            raise ConnectionError("smtp server unreachable")

    _, consumer_url = await broker_user()
    consumer = await queue_broker(url=consumer_url, users=PLATFORM_IS_GUEST)
    routes: Routes = {m.UserContactChanged: Route(on_contact, publishers={"guest"})}
    await consumer.consume(QUEUE, routes, pool=messaging_pool)
    platform = await queue_broker()
    await platform.publish(contact("u-retried"))

    async def handled_twice() -> None:
        assert publishers == [(1, "guest"), (2, "guest")]

    await eventually(handled_twice)
