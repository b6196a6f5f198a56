"""Malformed and wrong-type messages on auth's queues (the token requests from sync and the
platform's user events), sent with a ``reply_to``: each is dead-lettered with a reason and without
its ``reply_to``, no reply goes out for it, and a good token request after each batch is answered."""

from __future__ import annotations

import uuid

import aio_pika
from hypothesis import given
from hypothesis import strategies as st

from shared import messages as m
from shared import rpc
from tests.service.auth.flow import Auth
from tests.support.helpers import Probe

from .bad_messages import bad_deliveries
from .bus import DeadLetters, publish_to_queue
from .support import BUS_BATCH, OnLoop, run_property

QUEUES = ("auth.token_requests", "auth.user_events")
# Valid, but of a type neither queue handles (the token RPC answers only token requests).
UNROUTED = m.UserContactChanged(user_id="u-unrouted", email="u@platform.example")


async def ask_for_token(
    channel: aio_pika.abc.AbstractChannel, prefix: str, replies: Probe, reply_to: str
) -> None:
    """A good token request for an unknown user is answered ``no_grant`` on our reply queue."""
    request = m.TokenRequested(user_id="u-good-" + uuid.uuid4().hex[:8])
    exchange = await channel.get_exchange(prefix + m.AUTH_RPC, ensure=False)
    outgoing = aio_pika.Message(
        request.to_json(),
        message_id=request.message_id,
        user_id="guest",
        reply_to=reply_to,
        correlation_id="good",
    )
    await exchange.publish(outgoing, routing_key=request.ROUTING_KEY)
    reply = await replies.next_json(timeout=20)
    assert (reply["type"], reply["user_id"], reply["status"]) == ("token.reply", request.user_id, "no_grant")


async def test_malformed_messages_to_auth_are_dead_lettered_without_reply(
    auth_service: Auth, module_channel: aio_pika.abc.AbstractChannel, module_prefix: str
) -> None:
    """Each generated batch of malformed deliveries to auth's queues is dead-lettered with a reason
    and no reply_to, nothing is answered for them, and the good token request after it is."""
    on_loop, dead = OnLoop(), DeadLetters(module_channel, module_prefix)
    reply_queue = await module_channel.declare_queue(
        rpc.reply_queue_name(module_prefix), exclusive=True, auto_delete=True
    )
    replies = Probe(reply_queue)
    await replies.start()

    @BUS_BATCH
    @given(
        batch=st.lists(bad_deliveries(QUEUES, UNROUTED, reply_to=reply_queue.name), min_size=1, max_size=4)
    )
    def batch_is_refused(batch: list) -> None:
        sent = {on_loop(publish_to_queue(module_channel, module_prefix, raw)): raw.queue for raw in batch}
        on_loop(ask_for_token(module_channel, module_prefix, replies, reply_queue.name))
        reasons = on_loop(dead.wait_for(sent, timeout=10))
        assert all(reasons.values()), reasons
        assert not dead.reply_to, dead.reply_to
        assert replies.pending() == 0

    await run_property(batch_is_refused)
    await ask_for_token(module_channel, module_prefix, replies, reply_queue.name)
