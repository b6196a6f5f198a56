"""Transient handler failures are retried with growing delays, then dead-lettered with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from shared import messages as m
from shared.amqp import Broker
from shared.consumer import Delivery
from tests.conftest import TEST_RETRY_DELAYS_MS
from tests.integration.shared.conftest import GUEST_PLAYS_ALL
from tests.support.helpers import eventually

QUEUE = "notifier.user_events"


@pytest_asyncio.fixture
async def consumer_broker(amqp_url: str, amqp_prefix: str) -> AsyncIterator[Broker]:
    b = Broker(
        amqp_url,
        prefix=amqp_prefix,
        retry_delays_ms=TEST_RETRY_DELAYS_MS,
        name="retry-test",
        users=GUEST_PLAYS_ALL,
    )
    await b.connect()
    await b.declare([QUEUE])
    yield b
    await b.close()


def contact(user_id: str) -> m.UserContactChanged:
    return m.UserContactChanged(user_id=user_id, email=f"{user_id}@example.com", locale="de")


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
    consumer_broker: Broker, dead_letters: Any
) -> None:
    """After the configured delays are used up the message is parked with the last error as its reason."""
    seen: list[int] = []

    async def broken(message: m.Message, delivery: Delivery) -> None:
        seen.append(delivery.attempt)
        raise RuntimeError("database is on fire")

    await consumer_broker.consume(QUEUE, broken)
    sent = contact("u-broken")
    await consumer_broker.publish(sent)

    async def parked() -> list[Any]:
        found = await dead_letters(QUEUE)
        assert found
        return found

    dead = await eventually(parked)
    assert dead[0].message_id == sent.message_id
    assert seen == [1, 2, 3]
    assert "gave up after 3 attempts: RuntimeError: database is on fire" in str(
        dead[0].headers["x-calsync-reason"]
    )


async def test_message_that_cannot_be_parked_is_returned_and_the_consumer_carries_on(
    amqp_url: str, amqp_prefix: str, amqp_channel: Any, dead_letters: Any
) -> None:
    """While the dead-letter queue is missing a poison message goes back to its queue (with a pause),
    later messages are still handled, and once the queue exists again the poison message is parked."""
    b = Broker(
        amqp_url,
        prefix=amqp_prefix,
        retry_delays_ms=TEST_RETRY_DELAYS_MS,
        return_backoff=0.02,
        users=GUEST_PLAYS_ALL,
    )
    await b.connect()
    try:
        await b.declare([QUEUE])
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

        async def parked() -> list[Any]:
            found = await dead_letters(QUEUE)
            assert found
            return found

        dead = await eventually(parked, timeout=15)
        assert dead[0].message_id == "poison"
        assert str(dead[0].headers["x-calsync-reason"]).startswith("invalid message: body is not valid JSON")
    finally:
        await b.close()


async def test_unreadable_attempt_header_counts_as_first_attempt(consumer_broker: Broker) -> None:
    """A message whose retry header is garbage is still handled, as a first attempt."""
    seen: list[int] = []
    done = asyncio.Event()

    async def record(message: m.Message, delivery: Delivery) -> None:
        seen.append(delivery.attempt)
        done.set()

    await consumer_broker.consume(QUEUE, record)
    await consumer_broker.publish(contact("u-header"), headers={"x-calsync-attempt": "many"})
    await asyncio.wait_for(done.wait(), 10)
    assert seen == [1]
