"""Malformed messages on the notifier's queues (not JSON, wrong types, missing fields, NUL and lone
surrogates, deep nesting, huge or badly encoded bodies, hostile headers) are dead-lettered with a
reason, and a good message published after each batch is still handled."""

from __future__ import annotations

import uuid

import aio_pika
import asyncpg
from hypothesis import given
from hypothesis import strategies as st

from shared import messages as m
from shared.amqp import Broker
from tests.service.notifier.support import Notifier, finished

from .bad_messages import bad_deliveries
from .bus import DeadLetters, Raw, consumed, publish_good_contact, publish_to_queue
from .support import BUS_BATCH, OnLoop, run_property

QUEUES = ("notifier.user_events", "notifier.auth_events", "notifier.calendar_events")
# A valid message of a type no notifier queue handles.
UNROUTED = m.TokenRequested(user_id="u-unrouted")


async def test_malformed_messages_are_dead_lettered_with_a_reason(
    notifier_service: Notifier,
    module_bus: Broker,
    module_channel: aio_pika.abc.AbstractChannel,
    module_prefix: str,
    module_db: asyncpg.Pool,
) -> None:
    """Each generated batch of malformed deliveries lands in the dead-letter queues, every one with a
    reason, and the good contact event published after the batch is stored."""
    on_loop, dead = OnLoop(), DeadLetters(module_channel, module_prefix)

    @BUS_BATCH
    @given(batch=st.lists(bad_deliveries(QUEUES, UNROUTED), min_size=1, max_size=4))
    def batch_is_refused(batch: list[Raw]) -> None:
        before = finished(notifier_service)
        sent = {on_loop(publish_to_queue(module_channel, module_prefix, raw)): raw.queue for raw in batch}
        user_id = "u-good-" + uuid.uuid4().hex[:8]
        on_loop(publish_good_contact(module_bus, module_db, user_id))
        on_loop(consumed(notifier_service, before + len(sent) + 1))
        reasons = on_loop(dead.wait_for(sent))
        assert all(reasons.values()), reasons

    await run_property(batch_is_refused)
    await publish_good_contact(module_bus, module_db, "u-after-all")
    assert await module_db.fetchval("SELECT count(*) FROM notifier.jobs") == 0
