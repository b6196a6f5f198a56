"""Push notifications in, sync requests out: the webhook hands each verified notification to the
``PushIntake``, which answers at once and coalesces per calendar before touching the database.

At most one request per calendar is being written at a time; notifications arriving meanwhile
collapse into one more request, written ``WRITE_SPACING_SECONDS`` after the previous one (a
calendar's follow-up sync waits longer than that anyway, so a steady stream of notifications costs
a few row writes a second, not one per notification). The row in ``calendar_syncs`` coalesces further, across
replicas: a burst of notifications for one calendar costs at most one follow-up sync, and a calendar's
runs start at least ``spacing`` (the follow-up pause) apart while notifications keep coming. A request
lost to a database outage is caught by the safety-net sync."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import structlog

from services.sync.adapters import calendar_syncs
from shared.clock import Clock

log = structlog.get_logger(__name__)

TRANSIENT = (asyncpg.PostgresError, OSError, TimeoutError)
WRITE_SPACING_SECONDS = 0.25


class PushIntake:
    """Coalesces push-triggered sync requests per (user, calendar) in this process."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock, *, spacing: timedelta = timedelta(0)) -> None:
        self._pool, self._clock = pool, clock
        self._spacing = spacing  # a calendar's runs start at least this far apart while pushes come
        self._writing: dict[tuple[str, str], bool] = {}  # calendar -> another request came meanwhile
        self._tasks: set[asyncio.Task[None]] = set()

    def notify(self, user_id: str, calendar_id: str) -> None:
        """Ask for a sync of the calendar; never waits and never raises."""
        key = (user_id, calendar_id)
        if key in self._writing:
            self._writing[key] = True
            return
        self._writing[key] = False
        task = asyncio.get_running_loop().create_task(self._write(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, key: tuple[str, str]) -> None:
        try:
            while True:
                self._writing[key] = False
                try:
                    await calendar_syncs.request(
                        self._pool, *key, self._clock.now(), "push", spacing=self._spacing
                    )
                except TRANSIENT as exc:
                    log.warning("push_request_failed", user_id=key[0], error=f"{type(exc).__name__}: {exc}")
                    return
                if not self._writing[key]:
                    return
                await asyncio.sleep(WRITE_SPACING_SECONDS)  # later notifications collapse meanwhile
        finally:
            del self._writing[key]

    async def drain(self) -> None:
        """Wait for the requests being written (at shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
