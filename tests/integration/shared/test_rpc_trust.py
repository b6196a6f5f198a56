"""Token replies count only from auth's broker user: a reply from anyone else is ignored."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from shared import messages as m
from shared import rpc
from shared.amqp import Broker
from shared.config import BrokerUsers
from tests.conftest import TEST_RETRY_DELAYS_MS
from tests.support.bus import user_url

Answerer = Callable[[str], Awaitable[asyncio.Event]]


@pytest_asyncio.fixture
async def answering_as(amqp_prefix: str, broker_users: BrokerUsers) -> AsyncIterator[Answerer]:
    """``await answering_as(url)`` serves token requests as that URL's user; the returned event is set
    once a reply has been sent."""
    made: list[Broker] = []

    async def start(url: str) -> asyncio.Event:
        answered = asyncio.Event()
        server = Broker(url, prefix=amqp_prefix, retry_delays_ms=TEST_RETRY_DELAYS_MS, users=broker_users)
        made.append(server)
        await server.connect()
        await server.declare(["auth.token_requests"])

        async def answer(message: m.Message) -> m.Message:
            asyncio.get_running_loop().call_soon(answered.set)  # after the reply is published
            return m.TokenReply(user_id="u", status="no_grant")

        await rpc.serve(server, "auth.token_requests", m.TokenRequested, answer)
        return answered

    yield start
    for server in made:
        await server.close()


async def test_reply_from_auth_is_accepted(
    broker: Broker, answering_as: Answerer, amqp_url: str, broker_users: BrokerUsers
) -> None:
    """sync's request answered by auth's broker user gets its reply."""
    await answering_as(user_url(amqp_url, broker_users.auth))
    client = rpc.RpcClient(broker)
    await client.start()
    reply = await client.call(m.TokenRequested(user_id="u"), timeout=10)
    assert isinstance(reply, m.TokenReply) and reply.status == "no_grant"


async def test_reply_from_another_broker_user_is_ignored(
    broker: Broker, answering_as: Answerer, amqp_url: str
) -> None:
    """A reply to sync's request published by a broker user that is not auth's never resolves it."""
    answered = await answering_as(amqp_url)  # guest: may consume and answer, but is not auth
    client = rpc.RpcClient(broker)
    await client.start()
    call = asyncio.create_task(client.call(m.TokenRequested(user_id="u"), timeout=10))
    await asyncio.wait_for(answered.wait(), 10)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(call), 1.0)  # the reply is in flight or dropped by now
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
