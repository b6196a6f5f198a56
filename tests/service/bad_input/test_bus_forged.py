"""Messages forged by another broker user (docs/security.md, publisher verification): valid messages
that would store a contact, forget a user or start an alert are dead-lettered with the untrusted
publisher as the reason and change nothing; the trusted publisher's next message is still handled."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.entrypoints.consumers import QUEUE_TYPES
from shared import messages as m
from shared.amqp import Broker
from tests.service.notifier.support import Notifier, contact, disconnected, finished

from .bus import DeadLetters, consumed, publish_good_contact
from .support import BUS_BATCH, OnLoop, run_property

# The broker users scripts/ensure-infra.sh creates (password = name); none is trusted in this module.
FORGERS = ("calsync-auth", "calsync-sync", "calsync-notifier", "calsync-platform")
# The exchange each forger may write to (deploy/broker-permissions.tsv); all but the platform may
# also write to amq.default, which reaches any queue by name.
OWN_EXCHANGE = {
    "calsync-auth": m.AUTH_EVENTS,
    "calsync-sync": m.SYNC_EVENTS,
    "calsync-notifier": m.NOTIFIER_EVENTS,
    "calsync-platform": m.PLATFORM_EVENTS,
}
QUEUE_OF = {kind: queue for queue, kinds in QUEUE_TYPES.items() for kind in kinds}
VICTIM = "u-victim"


@pytest_asyncio.fixture(scope="module")
async def forgers(amqp_url: str) -> AsyncIterator[dict[str, aio_pika.abc.AbstractChannel]]:
    """A channel per forging broker user."""
    parts = urlsplit(amqp_url)
    connections, channels = [], {}
    try:
        for user in FORGERS:
            url = f"amqp://{user}:{user}@{parts.hostname}:{parts.port or 5672}{parts.path or '/'}"
            try:
                connection = await aio_pika.connect(url)
            except aio_pika.exceptions.AMQPConnectionError:
                pytest.skip(f"broker user {user} missing: run scripts/ensure-infra.sh")
            connections.append(connection)
            channels[user] = await connection.channel()
        yield channels
    finally:
        for connection in connections:
            await connection.close()


def _since() -> datetime:
    return datetime.now(UTC)


VALID_MESSAGES: list[Callable[[], m.Message]] = [
    lambda: contact("u-forged-" + uuid.uuid4().hex[:6]),
    lambda: m.UserDeleted(user_id=VICTIM),
    lambda: disconnected(VICTIM),
    lambda: m.GrantSuspended(user_id=VICTIM, grant_id="g-victim", hijacking=True, since=_since()),
    lambda: m.OperatorAlert(incident_id="i-forged", kind="circuit_open"),
    lambda: m.CalendarProblem(user_id=VICTIM, problem="calendar_unavailable", since=_since()),
]
FORGED_HEADERS: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [{}, {"x-calsync-publisher": "guest"}, {"x-calsync-publisher": "guest", "x-calsync-attempt": 2}]
)


@st.composite
def forgeries(draw: st.DrawFn) -> tuple[str, str, m.Message, dict[str, Any]]:
    """(broker user, 'direct' or 'exchange', message, headers); '' is guest leaving user_id out."""
    message = draw(st.sampled_from(VALID_MESSAGES))()
    # The platform's user may write to platform.events only; the others to amq.default too.
    users = [
        user for user in (*FORGERS, "") if user != "calsync-platform" or message.EXCHANGE == m.PLATFORM_EVENTS
    ]
    user = draw(st.sampled_from(users))
    if user == "calsync-platform":
        path = "exchange"
    elif OWN_EXCHANGE.get(user) == message.EXCHANGE:
        path = draw(st.sampled_from(["direct", "exchange"]))
    else:
        path = "direct"
    return user, path, message, draw(FORGED_HEADERS)


async def forge(
    channels: dict[str, aio_pika.abc.AbstractChannel],
    guest: aio_pika.abc.AbstractChannel,
    prefix: str,
    forgery: tuple[str, str, m.Message, dict[str, Any]],
) -> tuple[str, str]:
    """Publish one forgery; returns (delivery id, queue)."""
    user, path, message, headers = forgery
    delivery_id = "forged-" + uuid.uuid4().hex
    outgoing = aio_pika.Message(
        message.to_json(),
        message_id=delivery_id,
        user_id=user or None,
        headers=headers or None,
        reply_to="forgers-queue",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    channel = channels[user] if user else guest
    queue = QUEUE_OF[type(message)]
    if path == "exchange":
        exchange = await channel.get_exchange(prefix + message.EXCHANGE, ensure=False)
        await exchange.publish(outgoing, routing_key=message.ROUTING_KEY)
    else:
        await channel.default_exchange.publish(outgoing, routing_key=prefix + queue)
    return delivery_id, queue


async def test_forged_publishers_are_dead_lettered_and_change_nothing(
    notifier_service: Notifier,
    forgers: dict[str, aio_pika.abc.AbstractChannel],
    module_bus: Broker,
    module_channel: aio_pika.abc.AbstractChannel,
    module_prefix: str,
    module_db: asyncpg.Pool,
) -> None:
    """Each generated batch of forged messages is dead-lettered naming the untrusted publisher, the
    victim's contact survives, no email is planned, and the good message after each batch is stored."""
    on_loop, dead = OnLoop(), DeadLetters(module_channel, module_prefix)
    await publish_good_contact(module_bus, module_db, VICTIM)

    @BUS_BATCH
    @given(batch=st.lists(forgeries(), min_size=1, max_size=4))
    def batch_is_untrusted(batch: list[tuple[str, str, m.Message, dict[str, Any]]]) -> None:
        before = finished(notifier_service)
        sent = dict(on_loop(forge(forgers, module_channel, module_prefix, forgery)) for forgery in batch)
        on_loop(publish_good_contact(module_bus, module_db, "u-good-" + uuid.uuid4().hex[:8]))
        on_loop(consumed(notifier_service, before + len(sent) + 1))
        reasons = on_loop(dead.wait_for(sent))
        for (user, _, message, _), reason in zip(batch, reasons.values(), strict=True):
            assert reason == f"untrusted publisher '{user}' for {message.TYPE}", reason

    await run_property(batch_is_untrusted)
    await publish_good_contact(module_bus, module_db, "u-after-all")
    forged = await module_db.fetchval(
        "SELECT count(*) FROM notifier.contacts WHERE user_id LIKE 'u-forged-%'"
    )
    victim = await module_db.fetchval("SELECT count(*) FROM notifier.contacts WHERE user_id = $1", VICTIM)
    assert (forged, victim) == (0, 1)
    assert await module_db.fetchval("SELECT count(*) FROM notifier.jobs") == 0
