"""Publishing waits for the broker's confirm, and a message nobody can receive is an error."""

from __future__ import annotations

import aio_pika
import pytest

from shared import messages as m
from shared.amqp import Broker


async def test_unroutable_message_raises(broker: Broker) -> None:
    """A grant event published while no queue is bound fails loudly instead of vanishing."""
    with pytest.raises(aio_pika.exceptions.PublishError):
        await broker.publish(m.GrantDeleted(user_id="u", grant_id="g"))


async def test_routable_message_is_confirmed_and_persistent(broker: Broker, probe: object) -> None:
    """A published message arrives persistent, with its message id and type set."""
    events = await probe(m.AUTH_EVENTS, "auth.grant.*")  # type: ignore[operator]
    sent = m.GrantDeleted(user_id="u", grant_id="g")
    await broker.publish(sent)
    received = await events.next()
    assert received.message_id == sent.message_id and received.type == "grant.deleted"
    assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_platform_facing_events_need_no_bound_queue(broker: Broker) -> None:
    """notification.sent is for the platform, which may not listen; publishing it still succeeds."""
    await broker.publish(m.NotificationSent(notification_id="n", kind="alert"))
