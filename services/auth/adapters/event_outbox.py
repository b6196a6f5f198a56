"""auth's side of the transactional outbox: ``await outbox.add(conn, message)`` saves an event in the
caller's transaction, stamped with the service clock's time, and wakes the relay to publish it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from shared import messages as m
from shared import outbox
from shared.clock import Clock


class Outbox:
    """Saves events with the state change; the relay publishes them once the transaction commits."""

    def __init__(self, clock: Clock, wake: Callable[[], None]) -> None:
        self._clock = clock
        self._wake = wake

    async def add(self, conn: asyncpg.Connection, message: m.Message) -> None:
        await outbox.add(conn, message, occurred_at=self._clock.now())
        asyncio.get_running_loop().call_soon(self._wake)
