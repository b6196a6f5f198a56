"""The bus side of the bad-input properties: publish raw deliveries to a notifier queue, read what
its dead-letter queue holds, and wait for a good message's effect."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg

from shared import topology
from shared.amqp import Broker
from tests.service.notifier.support import Notifier, contact, finished
from tests.support.helpers import eventually

USER_EVENTS = "notifier.user_events"
REASON = "x-calsync-reason"


@dataclass(frozen=True)
class Raw:
    """One delivery exactly as a (possibly hostile) publisher sends it."""

    body: bytes
    queue: str = USER_EVENTS
    user_id: str | None = "guest"
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None
    content_encoding: str | None = None
    reply_to: str | None = None

    def message(self, message_id: str) -> aio_pika.Message:
        return aio_pika.Message(
            self.body,
            message_id=message_id,
            user_id=self.user_id,
            headers=self.headers or None,
            content_type=self.content_type,
            content_encoding=self.content_encoding,
            reply_to=self.reply_to,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )


async def publish_to_queue(channel: aio_pika.abc.AbstractChannel, prefix: str, raw: Raw) -> str:
    """Publish ``raw`` straight to its queue (through the default exchange); returns its message id."""
    message_id = "bad-" + uuid.uuid4().hex
    await channel.default_exchange.publish(raw.message(message_id), routing_key=prefix + raw.queue)
    return message_id


class DeadLetters:
    """Everything the notifier's dead-letter queues received during a test, by message id."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, prefix: str) -> None:
        self.channel, self.prefix = channel, prefix
        self.reasons: dict[str, str] = {}
        self.reply_to: dict[str, str] = {}  # dead copies that kept a reply_to (there must be none)

    async def drain(self, queue: str) -> None:
        dead = await self.channel.get_queue(self.prefix + topology.dead_queue(queue), ensure=False)
        while (message := await dead.get(no_ack=True, fail=False, timeout=5)) is not None:
            headers = message.headers or {}
            self.reasons[str(message.message_id)] = str(headers.get(REASON, ""))
            if message.reply_to:
                self.reply_to[str(message.message_id)] = message.reply_to

    async def wait_for(self, expected: dict[str, str], timeout: float = 3) -> dict[str, str]:
        """The reasons of the dead-lettered messages of ``expected`` (id -> queue); call it once the
        notifier has finished with them (``consumed``): a missing one fails in a few seconds."""

        async def all_there() -> dict[str, str]:
            for queue in set(expected.values()):
                await self.drain(queue)
            missing = [message_id for message_id in expected if message_id not in self.reasons]
            assert not missing, f"{len(missing)} of {len(expected)} not dead-lettered"
            return {message_id: self.reasons[message_id] for message_id in expected}

        return await eventually(all_there, timeout=timeout)


async def consumed(notifier: Notifier, count: int) -> None:
    """Wait until the notifier has finished ``count`` deliveries in all (handled or dead-lettered)."""

    async def done() -> None:
        assert finished(notifier) >= count

    await eventually(done, timeout=20)


async def contact_stored(db: asyncpg.Pool, user_id: str) -> None:
    """Wait until the notifier has stored the contact of ``user_id`` (a good message's effect)."""

    async def stored() -> None:
        count = await db.fetchval("SELECT count(*) FROM notifier.contacts WHERE user_id = $1", user_id)
        assert count == 1

    await eventually(stored, timeout=20)


async def publish_good_contact(bus: Broker, db: asyncpg.Pool, user_id: str) -> None:
    """A good contact event after a batch; returns once the notifier has stored it."""
    await bus.publish(contact(user_id))
    await contact_stored(db, user_id)
