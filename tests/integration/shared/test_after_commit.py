"""After-commit callbacks run only for committed transactions; the outbox wakes its relay that way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from shared.db import after_commit, transaction
from shared.outbox import Outbox, OutboxRelay


async def test_callback_runs_once_the_transaction_commits(messaging_pool: asyncpg.Pool) -> None:
    """A callback registered inside a transaction runs after its commit, not before."""
    ran: list[str] = []
    async with transaction(messaging_pool) as conn:
        await conn.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ('q', 'm-1')")
        after_commit(lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]
    assert await messaging_pool.fetchval("SELECT count(*) FROM processed_messages") == 1


async def test_callback_does_not_run_on_rollback(messaging_pool: asyncpg.Pool) -> None:
    """A transaction that fails rolls back its writes and never runs its callbacks."""
    ran: list[str] = []
    with pytest.raises(RuntimeError):
        async with transaction(messaging_pool) as conn:
            await conn.execute("INSERT INTO processed_messages (consumer, message_id) VALUES ('q', 'm-2')")
            after_commit(lambda: ran.append("committed"))
            raise RuntimeError("handler failed")
    assert ran == []
    assert await messaging_pool.fetchval("SELECT count(*) FROM processed_messages") == 0


async def test_callback_outside_a_transaction_runs_at_once() -> None:
    """Without an open transaction there is nothing to wait for: the callback runs immediately."""
    ran: list[str] = []
    after_commit(lambda: ran.append("now"))
    assert ran == ["now"]


async def test_concurrent_transactions_keep_their_own_callbacks(messaging_pool: asyncpg.Pool) -> None:
    """Of two transactions running at once only the committed one's callback runs, and a task started
    inside a transaction does not hand its callbacks to that transaction."""
    ran: list[str] = []
    both_open = asyncio.Barrier(2)

    async def work(name: str, fail: bool) -> None:
        async with transaction(messaging_pool):
            after_commit(lambda: ran.append(name))
            await both_open.wait()
            if fail:
                raise RuntimeError("rolled back")

    async def spawned() -> None:
        after_commit(lambda: ran.append("spawned"))

    async with transaction(messaging_pool):
        await asyncio.create_task(spawned())
        assert ran == ["spawned"]
    results = await asyncio.gather(work("commits", False), work("fails", True), return_exceptions=True)
    assert isinstance(results[1], RuntimeError)
    assert ran == ["spawned", "commits"]


async def test_outbox_add_is_published_right_after_commit(
    messaging_pool: asyncpg.Pool, broker: Broker, probe: Any
) -> None:
    """An event added in a transaction is stamped with the service clock and published as soon as the
    transaction commits, although the relay would otherwise look only once a minute."""
    events = await probe(m.SYNC_EVENTS, "sync.calendar.selected")
    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    outbox = Outbox(clock)
    relay = OutboxRelay(messaging_pool, broker, poll_interval=60)
    outbox.attach(relay)
    task = asyncio.create_task(relay.run())
    try:
        first = m.CalendarSelected(user_id="u-1", calendar_id="primary")
        async with transaction(messaging_pool) as conn:
            await outbox.add(conn, first)
        assert (await events.next_json())["message_id"] == first.message_id  # the relay now waits

        second = m.CalendarSelected(user_id="u-2", calendar_id="primary")
        async with transaction(messaging_pool) as conn:
            await outbox.add(conn, second)
            row = await conn.fetchrow(
                "SELECT message_id, sent_at FROM outbox WHERE message_id = $1", second.message_id
            )
            assert row is not None and row["sent_at"] is None
        published = await events.next_json(timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert published["message_id"] == second.message_id
    assert published["occurred_at"] == "2026-03-02T08:00:00Z"
