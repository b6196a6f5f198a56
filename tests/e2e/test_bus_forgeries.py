"""End to end: nobody but the documented publisher can speak for the platform, auth or sync on the bus.

auth, sync and the notifier run in-process, each as its own broker user with publisher verification
on, and one user is connected through the real OAuth round trip. Forgers are the platform's broker
user (``calsync-platform``), another service's user (``calsync-notifier``, which may write to the
default exchange) and a login with every permission (``guest``). Every forgery is refused by the
broker or dead-lettered with its reason, and at the end no queue under the test's prefix holds any
token the Google emulator issued.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aio_pika
import asyncpg
import pytest

from shared import messages as m
from shared.amqp import Broker
from shared.config import BrokerUsers, CommonConfig, GoogleConfig
from shared.rpc import RpcClient
from tests.conftest import TEST_RETRY_DELAYS_MS, Messages, Parked
from tests.e2e.support import EMAIL, Chain, chain
from tests.support.bus import drain, queues_under, secrets_in, user_url
from tests.support.helpers import eventually, serve
from tests.support.service_apps import build_app


@pytest.fixture
def services(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> Callable[[], Any]:
    """``async with services() as c``: auth, sync and the notifier running, a user connected."""

    @asynccontextmanager
    async def running() -> AsyncIterator[Chain]:
        async with (
            serve(build_app("sync", common_config("sync"), emulator)),
            chain(common_config, google_config, emulator, broker, clean_db) as c,
        ):
            yield c

    return running


@asynccontextmanager
async def connected(url: str, prefix: str) -> AsyncIterator[Broker]:
    broker = Broker(url, prefix=prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, name="forger")
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


async def refused_by_the_broker(url: str, prefix: str, message: m.Message, **properties: Any) -> None:
    async with connected(url, prefix) as forger:
        with pytest.raises(aio_pika.exceptions.ChannelClosed, match="ACCESS_REFUSED"):
            await forger.publish(message, **properties)


async def no_token_anywhere(amqp_url: str, prefix: str, emulator: Any, seen: Messages) -> None:
    """No queue under ``prefix`` (nor any message already taken from one) holds an issued secret."""
    issued = emulator.issued_secrets()
    assert emulator.access_tokens_of(EMAIL), "the connected user has an access token to leak"
    connection = await aio_pika.connect(amqp_url)
    try:
        for queue in await queues_under(prefix, TEST_RETRY_DELAYS_MS):
            seen = seen + await drain(connection, queue)
    finally:
        await connection.close()
    leaks = {(msg.routing_key, msg.type): secrets_in(msg, issued) for msg in seen}
    assert not {where: found for where, found in leaks.items() if found}


def untrusted(user: str, message_type: str) -> str:
    return f"untrusted publisher '{user}' for {message_type}"


@asynccontextmanager
async def token_request(
    url: str, prefix: str, user_id: str, reply: str, *, via_default: bool
) -> AsyncIterator[Messages]:
    """Publish ``token.requested`` for ``user_id`` as the user of ``url`` with ``reply_to`` naming its
    own exclusive queue (``own``), direct reply-to (``direct``) or sync's work queue (``work``);
    yields what arrives for it until the block ends."""
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    replies: Messages = []

    async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        replies.append(message)

    reply_to = f"{prefix}sync.grant_events"
    if reply == "own":  # named by the reply-queue rule where the user may, else by the broker
        name = "" if via_default else f"{prefix}rpc.reply.{uuid.uuid4().hex}"
        queue = await channel.declare_queue(name, exclusive=True, auto_delete=True)
        await queue.consume(on_reply, no_ack=True)
        reply_to = queue.name
    elif reply == "direct":
        direct = await channel.get_queue("amq.rabbitmq.reply-to", ensure=False)
        await direct.consume(on_reply, no_ack=True)
        reply_to = "amq.rabbitmq.reply-to"
    request = m.TokenRequested(user_id=user_id)
    user = connection.url.user
    body = aio_pika.Message(
        request.to_json(), message_id=request.message_id, type=request.TYPE, reply_to=reply_to,
        correlation_id="forged", user_id=user,
    )  # fmt: skip
    if via_default:
        await channel.default_exchange.publish(body, routing_key=f"{prefix}auth.token_requests")
    else:
        exchange = await channel.get_exchange(prefix + m.AUTH_RPC, ensure=False)
        await exchange.publish(body, routing_key=request.ROUTING_KEY)
    try:
        yield replies
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("forger", "reply", "via_default"),
    [
        ("guest", "own", False),
        ("guest", "direct", False),
        ("guest", "work", False),
        ("notifier", "own", True),
    ],
)
async def test_token_request_from_anyone_but_sync_gets_no_token(
    services: Callable[[], Any],
    amqp_url: str,
    amqp_prefix: str,
    broker_users: BrokerUsers,
    broker: Broker,
    emulator: Any,
    parked: Parked,
    forger: str,
    reply: str,
    via_default: bool,
) -> None:
    """A token request for a connected user from a broker user other than sync's is dead-lettered with
    the reason, no reply reaches it, and no token lands in any queue; sync still gets its token."""
    url = amqp_url if forger == "guest" else user_url(amqp_url, broker_users.of(forger))
    user = "guest" if forger == "guest" else broker_users.of(forger)
    seen: Messages = []
    async with services() as c:
        async with token_request(url, amqp_prefix, c.user_id, reply, via_default=via_default) as replies:
            dead = await parked("auth.token_requests")
            assert dead[0].headers["x-calsync-reason"] == untrusted(user, "token.requested")
            assert dead[0].reply_to is None
            assert replies == []
        seen += dead
        client = RpcClient(broker)  # sync's own request still gets the token
        await client.start()
        answer = await client.call(m.TokenRequested(user_id=c.user_id), timeout=10)
        assert isinstance(answer, m.TokenReply) and answer.status == "token"
    await no_token_anywhere(amqp_url, amqp_prefix, emulator, seen)


async def test_token_request_naming_a_work_queue_is_refused_even_from_sync(
    services: Callable[[], Any],
    broker: Broker,
    amqp_prefix: str,
    amqp_url: str,
    emulator: Any,
    parked: Parked,
) -> None:
    """sync's own broker user asking for a token with ``reply_to`` naming a work queue gets it
    dead-lettered without an answer: a token goes only to a reply queue."""
    async with services() as c:
        work_queue = f"{amqp_prefix}notifier.auth_events"
        await broker.publish(m.TokenRequested(user_id=c.user_id), reply_to=work_queue, correlation_id="c")
        dead = await parked("auth.token_requests")
        assert (
            dead[0].headers["x-calsync-reason"] == f"rejected: reply_to {work_queue!r} is not a reply queue"
        )
        assert dead[0].headers["x-calsync-publisher"] == broker.users.sync
    await no_token_anywhere(amqp_url, amqp_prefix, emulator, dead)


async def decided(db: asyncpg.Pool) -> list[Any]:
    """What sync and the notifier have decided so far: grant states, episodes and mail jobs."""
    queries = (
        "SELECT user_id, state, reason FROM sync.grant_states ORDER BY 1",
        "SELECT id, user_id, reason, ended_at, end_cause FROM notifier.episodes ORDER BY 1",
        "SELECT dedupe_key, kind, reason, user_id FROM notifier.jobs ORDER BY 1",
    )
    return [[dict(row) for row in await db.fetch(query)] for query in queries]


async def handled(db: asyncpg.Pool, count: int) -> None:
    """Wait until sync and the notifier have each handled ``count`` of auth's grant events."""

    async def done() -> None:
        for schema, queue in (("sync", "sync.grant_events"), ("notifier", "notifier.auth_events")):
            query = f"SELECT count(*) FROM {schema}.processed_messages WHERE consumer = $1"
            assert await db.fetchval(query, queue) == count, queue

    await eventually(done, timeout=15)


async def first_reminder_scheduled(db: asyncpg.Pool) -> list[Any]:
    """``decided`` once the alert is sent and its first reminder is due later (nothing else follows)."""
    state = await decided(db)
    assert [job["kind"] for job in state[2]] == ["alert", "reminder"], state[2]
    return state


async def test_forged_auth_events_send_no_email_and_change_nothing(
    services: Callable[[], Any],
    amqp_url: str,
    amqp_prefix: str,
    clean_db: asyncpg.Pool,
    emulator: Any,
    parked: Parked,
) -> None:
    """After a real disconnect email, a forged "grant connected again" and a forged operator alert from
    a full-permission broker login are dead-lettered: no email, no new notifier job, no state change."""
    async with services() as c:
        emulator.revoke_user(EMAIL)
        c.clock.advance(timedelta(days=3))  # the keep-alive refresh fails: one disconnect email
        await c.mail.wait_for(timeout=15)
        await handled(clean_db, 2)  # connected, disconnected
        before = await eventually(lambda: first_reminder_scheduled(clean_db))
        grant = await clean_db.fetchrow(
            "SELECT grant_id, google_sub FROM auth.grants WHERE user_id = $1", c.user_id
        )
        reconnected = m.GrantConnected(user_id=c.user_id, cause="reconnected", **dict(grant))
        alert = m.OperatorAlert(incident_id="inc-forged", kind="app_config", error="call +1 555 0100 now")
        async with connected(amqp_url, amqp_prefix) as forger:
            await forger.publish(reconnected)
            await forger.publish(alert)
        notifier_dead = await parked("notifier.auth_events", 2)
        sync_dead = await parked("sync.grant_events")
        assert {d.headers["x-calsync-reason"] for d in notifier_dead} == {
            untrusted("guest", "grant.connected"),
            untrusted("guest", "operator.alert"),
        }
        assert sync_dead[0].headers["x-calsync-reason"] == untrusted("guest", "grant.connected")
        assert await decided(clean_db) == before
        assert len(c.mail.messages) == 1, [str(x["Subject"]) for x in c.mail.messages]


async def test_platform_user_cannot_speak_for_auth_or_sync(
    services: Callable[[], Any],
    amqp_url: str,
    amqp_prefix: str,
    broker_users: BrokerUsers,
    clean_db: asyncpg.Pool,
    emulator: Any,
    parked: Parked,
) -> None:
    """The platform's broker user may not publish a token request, a grant event or an operator alert
    (the broker refuses), nor declare a reply queue; the same messages sent through its own exchange
    are dead-lettered as untrusted; no email is sent and no token lands anywhere."""
    platform = user_url(amqp_url, broker_users.platform)
    seen: Messages = []
    async with services() as c:
        await handled(clean_db, 1)  # connected
        before = await decided(clean_db)
        await refused_by_the_broker(platform, amqp_prefix, m.TokenRequested(user_id=c.user_id), reply_to="x")
        await refused_by_the_broker(
            platform,
            amqp_prefix,
            m.GrantConnected(user_id=c.user_id, grant_id="g", cause="reconnected", google_sub="s"),
        )
        await refused_by_the_broker(
            platform, amqp_prefix, m.OperatorAlert(incident_id="i", kind="app_config")
        )
        connection = await aio_pika.connect(platform)
        with pytest.raises(aio_pika.exceptions.ChannelClosed, match="ACCESS_REFUSED"):
            channel = await connection.channel()
            await channel.declare_queue(f"{amqp_prefix}rpc.reply.{uuid.uuid4().hex}", exclusive=True)
        await connection.close()
        async with connected(platform, amqp_prefix) as forger:  # other types on its own exchange
            request = m.TokenRequested(user_id=c.user_id)
            alert = m.OperatorAlert(incident_id="i", kind="app_config")
            for message, key in ((request, "platform.user.deleted"), (alert, "platform.user.updated")):
                await forger.publish_raw(
                    m.PLATFORM_EVENTS,
                    key,
                    message.to_json(),
                    message_id=message.message_id,
                    message_type=message.TYPE,
                    reply_to=f"{amqp_prefix}sync.grant_events",
                )
        for queue in ("auth.user_events", "sync.user_events"):
            dead = await parked(queue)
            assert dead[0].headers["x-calsync-reason"] == untrusted(broker_users.platform, "token.requested")
            seen += dead
        notified = await parked("notifier.user_events", 2)
        assert {d.headers["x-calsync-reason"] for d in notified} == {
            untrusted(broker_users.platform, "token.requested"),
            untrusted(broker_users.platform, "operator.alert"),
        }
        assert await decided(clean_db) == before and c.mail.messages == []
    await no_token_anywhere(amqp_url, amqp_prefix, emulator, seen + notified)


async def grant_of(db: asyncpg.Pool, user_id: str) -> Any:
    return await db.fetchrow("SELECT grant_id, state FROM auth.grants WHERE user_id = $1", user_id)


async def test_user_deleted_only_from_the_platform(
    services: Callable[[], Any],
    amqp_url: str,
    amqp_prefix: str,
    broker_users: BrokerUsers,
    broker: Broker,
    clean_db: asyncpg.Pool,
    emulator: Any,
    parked: Parked,
) -> None:
    """``user.deleted`` from the notifier's broker user (straight into the work queues) or from a
    full-permission login is dead-lettered and the grant stays; the platform's own deletes it."""
    notifier = user_url(amqp_url, broker_users.notifier)
    async with services() as c:
        grant = await grant_of(clean_db, c.user_id)
        await refused_by_the_broker(notifier, amqp_prefix, m.UserDeleted(user_id=c.user_id))
        async with connected(notifier, amqp_prefix) as forger:
            for queue in ("auth.user_events", "sync.user_events"):
                forged = m.UserDeleted(user_id=c.user_id)
                await forger.publish_raw(
                    "", amqp_prefix + queue, forged.to_json(), message_id=forged.message_id
                )
        async with connected(amqp_url, amqp_prefix) as forger:
            await forger.publish(m.UserDeleted(user_id=c.user_id))
        auth_dead = await parked("auth.user_events", 2)
        assert {d.headers["x-calsync-reason"] for d in auth_dead} == {
            untrusted(broker_users.notifier, "user.deleted"),
            untrusted("guest", "user.deleted"),
        }
        assert len(await parked("sync.user_events", 2)) == 2
        assert await grant_of(clean_db, c.user_id) == grant
        assert not emulator.revoked_tokens

        await broker.publish(m.UserDeleted(user_id=c.user_id))  # as the platform

        async def deleted() -> None:
            assert await grant_of(clean_db, c.user_id) is None

        await eventually(deleted)
