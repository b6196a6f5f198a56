"""The per-publisher broker users made by scripts/ensure-infra.sh may run their service's topology and
publish only to their own exchanges (deploy/broker-permissions.tsv)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest

from shared import messages as m
from shared import topology as t
from shared.amqp import Broker
from shared.config import BrokerUsers
from tests.conftest import TEST_RETRY_DELAYS_MS

USERS = BrokerUsers()
SAMPLES: dict[str, m.Message] = {
    m.AUTH_EVENTS: m.GrantDeleted(user_id="u", grant_id="g"),
    m.SYNC_EVENTS: m.CalendarSelected(user_id="u", calendar_id="c"),
    m.NOTIFIER_EVENTS: m.NotificationSent(notification_id="n", kind="alert"),
    m.AUTH_RPC: m.TokenRequested(user_id="u"),
}


async def _drop(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    """Consuming is what is checked here; the messages themselves do not matter."""


def _url_of(amqp_url: str, user: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit(
        (parts.scheme, f"{user}:{user}@{parts.hostname}:{parts.port or 5672}", parts.path, "", "")
    )


async def _connected(amqp_url: str, user: str, prefix: str) -> Broker:
    broker = Broker(_url_of(amqp_url, user), prefix=prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, name=user)
    try:
        await broker.connect()
    except (aio_pika.exceptions.AMQPError, ConnectionError) as exc:
        pytest.skip(f"broker user {user} is not set up here (run scripts/ensure-infra.sh as root): {exc}")
    return broker


@pytest.mark.parametrize("service", ["auth", "sync", "notifier"])
async def test_service_user_runs_its_topology_and_publishes_only_its_own_events(
    amqp_url: str, amqp_prefix: str, broker: Broker, service: str
) -> None:
    """A service's broker user declares and consumes its queues and publishes its events, and the broker
    refuses it publishing another service's events."""
    own = await _connected(amqp_url, USERS.of(service), amqp_prefix)
    try:
        await own.declare(t.queues_to_declare(service))
        for spec in t.queues_of(service):
            channel = await own.channel(prefetch=1)
            queue = await channel.get_queue(own.n(spec.name), ensure=False)
            await queue.consume(_drop, no_ack=True)
        for exchange in t.PUBLISHES[service]:
            await own.publish(SAMPLES[exchange])
    finally:
        await own.close()
    for exchange, sample in SAMPLES.items():
        if exchange in t.PUBLISHES[service]:
            continue
        other = await _connected(amqp_url, USERS.of(service), amqp_prefix)
        try:
            with pytest.raises(aio_pika.exceptions.ChannelClosed, match="ACCESS_REFUSED"):
                await other.publish(sample)
        finally:
            await other.close()
