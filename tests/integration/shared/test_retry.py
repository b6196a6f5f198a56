"""Transient handler failures are retried with growing delays, then dead-lettered with the reason."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest_asyncio

from shared import messages as m
from shared.amqp import Broker
from shared.consumer import Delivery
from tests.conftest import Parked
from tests.integration.shared.conftest import QUEUE, QueueBroker, contact
from tests.support.helpers import eventually


@pytest_asyncio.fixture
async def consumer_broker(queue_broker: QueueBroker) -> Broker:
    """The consuming side, with QUEUE declared."""
    return await queue_broker(name="retry-test")


async def test_transient_failure_is_retried_until_it_succeeds(consumer_broker: Broker) -> None:
    """A handler that fails twice with a passing error still gets the message a third time and succeeds."""
    attempts: list[int] = []
    done = asyncio.Event()

    async def flaky(message: m.Message, delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if len(attempts) < 3:
            raise ConnectionError("smtp server unreachable")
        done.set()

    await consumer_broker.consume(QUEUE, flaky)
    await consumer_broker.publish(contact("u-flaky"))
    await asyncio.wait_for(done.wait(), 10)
    assert attempts == [1, 2, 3]


async def test_persistent_failure_is_dead_lettered_with_reason(
    consumer_broker: Broker, parked: Parked
) -> None:
    """After the configured delays are used up the message is parked with the last error as its reason."""
    seen: list[int] = []

    async def broken(message: m.Message, delivery: Delivery) -> None:
        seen.append(delivery.attempt)
        raise RuntimeError("database is on fire")

    await consumer_broker.consume(QUEUE, broken)
    sent = contact("u-broken")
    await consumer_broker.publish(sent)
    dead = await parked(QUEUE)
    assert dead[0].message_id == sent.message_id
    assert seen == [1, 2, 3]
    assert "gave up after 3 attempts: RuntimeError: database is on fire" in str(
        dead[0].headers["x-calsync-reason"]
    )


async def test_message_that_cannot_be_parked_is_returned_and_the_consumer_carries_on(
    queue_broker: QueueBroker, amqp_prefix: str, amqp_channel: Any, parked: Parked
) -> None:
    """While the dead-letter queue is missing a poison message goes back to its queue (with a pause),
    later messages are still handled, and once the queue exists again the poison message is parked."""
    b = await queue_broker(return_backoff=0.02)
    await amqp_channel.queue_delete(f"{amqp_prefix}{QUEUE}.dead")  # parking now fails (unroutable)
    handled: list[str] = []

    async def record(message: m.Message, delivery: Delivery) -> None:
        handled.append(message.message_id)

    await b.consume(QUEUE, record)
    await b.publish_raw(m.PLATFORM_EVENTS, "platform.user.updated", b"not json", message_id="poison")
    good = contact("u-after-poison")
    await b.publish(good)

    async def good_handled() -> None:
        assert good.message_id in handled

    await eventually(good_handled)
    await b.declare([QUEUE])  # the dead-letter queue is back
    dead = await parked(QUEUE)
    assert dead[0].message_id == "poison"
    assert str(dead[0].headers["x-calsync-reason"]).startswith("invalid message: body is not valid JSON")
