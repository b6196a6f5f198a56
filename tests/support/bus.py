"""The test side of the bus: each service and the platform as their own broker users.

``scripts/ensure-infra.sh`` (``make up``, run by ``make test``) creates the users of docs/security.md
on a local broker with the password equal to the name; ``user_url`` builds their AMQP URLs from the
admin URL (``AMQP_URL``, guest). ``PublishingBroker`` declares and reads as the admin user and
publishes each message as the broker user of its documented publisher, as that publisher would.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
import aiormq

from shared import topology as t
from shared.amqp import Broker
from shared.config import BrokerUsers

PUBLISHERS = ("auth", "sync", "notifier", "platform")


class BrokerUsersMissing(Exception):
    """A broker user of docs/security.md cannot log in; the message says how to create it."""


def user_url(admin_url: str, user: str) -> str:
    """``admin_url`` with ``user`` logging in (its password is its name, as ensure-infra makes it)."""
    parts = urlsplit(admin_url)
    name = quote(user, safe="")
    netloc = f"{name}:{name}@{parts.hostname}:{parts.port or 5672}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def check_logins(admin_url: str, users: BrokerUsers) -> None:
    """Raise ``BrokerUsersMissing`` naming every publisher's user that cannot log in."""
    missing = []
    for publisher in PUBLISHERS:
        name = users.of(publisher)
        try:
            connection = await aio_pika.connect(user_url(admin_url, name), timeout=10)
        except (aio_pika.exceptions.AMQPError, ConnectionError, OSError) as exc:
            missing.append(f"{name} ({type(exc).__name__})")
        else:
            await connection.close()
    if missing:
        host = urlsplit(admin_url).hostname
        raise BrokerUsersMissing(
            f"RabbitMQ on {host} refuses the broker users {', '.join(missing)} (password: the user"
            " name). Run `make up` (scripts/ensure-infra.sh, as root on the broker's machine) to create"
            " them with deploy/broker-permissions.tsv, or create them as docs/security.md describes."
        )


class PublishingBroker(Broker):
    """A test broker connected as the admin user that publishes each message as the broker user of
    the documented publisher of its exchange (the default, retry and dead exchanges: as admin)."""

    def __init__(self, admin_url: str, *, users: BrokerUsers, **options: Any) -> None:
        super().__init__(admin_url, users=users, **options)
        self._options = options
        self._admin_url = admin_url
        self._as: dict[str, Broker] = {}
        self._connecting = asyncio.Lock()  # concurrent publishes share one connection per user

    async def as_publisher(self, publisher: str) -> Broker:
        """The one connected broker for ``publisher``'s user (auth, sync, notifier or platform)."""
        async with self._connecting:
            if publisher not in self._as:
                url = user_url(self._admin_url, self.users.of(publisher))
                broker = Broker(url, users=self.users, **self._options)
                await broker.connect()
                self._as[publisher] = broker
        return self._as[publisher]

    async def publish_raw(self, exchange: str, routing_key: str, body: bytes, **properties: Any) -> None:
        publisher = t.PUBLISHER_OF.get(exchange)
        if publisher is None:
            await super().publish_raw(exchange, routing_key, body, **properties)
            return
        broker = await self.as_publisher(publisher)
        broker.publish_timeout = self.publish_timeout  # a test may have made it more patient
        await broker.publish_raw(exchange, routing_key, body, **properties)

    async def close(self) -> None:
        for broker in self._as.values():
            await broker.close()
        self._as.clear()
        await super().close()


async def queues_under(prefix: str, delays_ms: tuple[int, ...], extra: tuple[str, ...] = ()) -> list[str]:
    """Every queue whose name starts with ``prefix``: as listed by ``rabbitmqctl`` where it may be run,
    else every queue of the topology (with its delay and dead-letter queues); plus ``extra``."""
    names = set(extra)
    listed = await _rabbitmqctl_queues()
    if listed is None:
        for queue in t.QUEUES:
            names |= {queue, t.dead_queue(queue), *(t.retry_queue(queue, d) for d in delays_ms)}
        return sorted(prefix + name for name in names)
    return sorted({name for name in listed if name.startswith(prefix)} | {prefix + n for n in extra})


async def _rabbitmqctl_queues() -> list[str] | None:
    if shutil.which("rabbitmqctl") is None:
        return None
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", "list_queues", "name", "--no-table-headers", cwd="/",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await process.communicate()
    return out.decode().split() if process.returncode == 0 else None


async def drain(
    connection: aio_pika.abc.AbstractConnection, queue: str
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message now in ``queue``; nothing from another live connection's exclusive queue
    (a requester's reply queue, the one place a reply belongs)."""
    found = []
    async with connection.channel() as channel:
        try:
            source = await channel.get_queue(queue, ensure=True)
        except aiormq.exceptions.ChannelLockedResource:
            return []
        except aio_pika.exceptions.ChannelNotFoundEntity:  # gone meanwhile (auto-deleted)
            return []
        while (message := await source.get(no_ack=True, fail=False)) is not None:
            found.append(message)
    return found


def secrets_in(message: aio_pika.abc.AbstractIncomingMessage, secrets: set[str]) -> set[str]:
    """Which of ``secrets`` appear in the message's body, headers or reply_to."""
    text = message.body.decode(errors="replace") + repr(message.headers) + str(message.reply_to)
    return {secret for secret in secrets if secret and secret in text}
