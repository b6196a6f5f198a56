"""A token request whose caller gave up while nobody served the queue is dropped when a server comes
back: not answered, and not dead-lettered (a broker TTL would have put it in the dead-letter queue)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aio_pika

from shared import messages as m
from shared import rpc
from shared.amqp import Broker
from shared.config import BrokerUsers
from tests.conftest import TEST_RETRY_DELAYS_MS
from tests.support.bus import user_url
from tests.support.helpers import eventually


async def test_a_request_nobody_answered_in_time_is_dropped_not_dead_lettered(
    broker: Broker,
    amqp_url: str,
    amqp_prefix: str,
    broker_users: BrokerUsers,
    amqp_channel: aio_pika.abc.AbstractChannel,
    dead_letters: Callable[..., Any],
) -> None:
    """sync asks while auth is down and times out; once auth serves again it takes the stale request
    off the queue without calling its handler, and the dead-letter queue stays empty."""
    await broker.declare(["auth.token_requests"])
    client = rpc.RpcClient(broker)
    await client.start()
    try:
        await client.call(m.TokenRequested(user_id="u"), timeout=0.5)
        raise AssertionError("nobody serves the queue, yet the call was answered")
    except TimeoutError:
        pass
    server = Broker(user_url(amqp_url, broker_users.auth), prefix=amqp_prefix,
                    retry_delays_ms=TEST_RETRY_DELAYS_MS, users=broker_users)  # fmt: skip
    await server.connect()
    asked: list[m.Message] = []

    async def answer(message: m.Message) -> m.Message:
        asked.append(message)
        return m.TokenReply(user_id="u", status="no_grant")

    try:
        await rpc.serve(server, "auth.token_requests", m.TokenRequested, answer)

        async def taken() -> None:
            queue = await amqp_channel.declare_queue(amqp_prefix + "auth.token_requests", passive=True)
            assert queue.declaration_result.message_count == 0

        await eventually(taken, timeout=10)
        reply = await client.call(m.TokenRequested(user_id="u"), timeout=10)  # a live one is answered
        assert isinstance(reply, m.TokenReply) and len(asked) == 1
        assert await dead_letters("auth.token_requests") == []
    finally:
        await server.close()
