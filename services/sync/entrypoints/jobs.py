"""sync's background loops: writer workers claiming due appointments (woken after a consumer
commit, otherwise polling), the destination-calendar resolver, the retention purge, inbound
workers claiming calendars due for a sync (requested, or due by the safety net), and the channel
keeper (watch channels created, renewed and stopped, docs/sync.md), and the hourly purge of inbound
state no calendar needs any more."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, Generic, TypeVar

import asyncpg
import structlog

from services.sync.adapters import calendar_syncs, repository
from services.sync.usecases import calendars, channels, inbound_sync, users, writer

log = structlog.get_logger(__name__)

PURGE_EVERY = timedelta(hours=1)
TRANSIENT = (asyncpg.PostgresError, OSError, TimeoutError)
Deps = TypeVar("Deps")
Loops = list[tuple[str, Coroutine[Any, Any, None]]]  # (task name, coroutine) for app.py to start


async def _forever(step: Callable[[], Awaitable[bool]], idle: Callable[[], Awaitable[None]]) -> None:
    """Run ``step`` again and again; after one that found nothing to do (or failed), ``idle``."""
    while True:
        try:
            busy = await step()
        except TRANSIENT as exc:
            log.warning("sync_loop_failed", error=f"{type(exc).__name__}: {exc}")
            busy = False
        except Exception:
            log.exception("sync_loop_failed")
            busy = False
        if not busy:
            await idle()


async def _hourly() -> None:
    await asyncio.sleep(PURGE_EVERY.total_seconds())


async def _wait(wake: asyncio.Event, seconds: float) -> None:
    """Wait for ``wake`` or ``seconds`` (never swallowing a cancellation), then clear it."""
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    wake.clear()


class _Woken(Generic[Deps]):
    """Loops on ``deps`` whose idle wait (``interval`` seconds) ``wake()`` cuts short."""

    def __init__(self, deps: Deps, interval: float) -> None:
        self._deps, self._interval = deps, interval
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Have idle loops look now (consumers call it after their commit)."""
        self._wake.set()

    async def _idle(self) -> None:
        await _wait(self._wake, self._interval)

    def _workers_of(self, name: str, step: Callable[[], Awaitable[bool]], count: int) -> Loops:
        """``count`` loops named ``name-<i>`` running ``step`` and idling between empty steps."""
        return [(f"{name}-{i}", _forever(step, self._idle)) for i in range(count)]


class Writer(_Woken[writer.WriterDeps]):
    """N workers share this replica's claims; ``wake()`` makes idle workers look at once."""

    def __init__(self, deps: writer.WriterDeps, resolve: calendars.ResolveDeps, *, workers: int) -> None:
        super().__init__(deps, deps.config.poll_interval)
        self._resolve, self._workers = resolve, workers
        self._last_purge = deps.clock.now() - PURGE_EVERY
        self._claimed: list[asyncpg.Record] = []  # leased for this replica, no worker on them yet
        self._claiming = asyncio.Lock()
        self._writing = 0

    def loops(self) -> Loops:
        writers = self._workers_of("sync-writer", self._write_once, self._workers)
        return [*writers, ("sync-calendar-resolver", _forever(self._housekeeping, self._idle))]

    async def _write_once(self) -> bool:
        row = await self._next_claimed()
        if row is None:
            return False
        self._writing += 1
        try:
            await writer.write(self._deps, row)
        finally:
            self._writing -= 1
        return True

    async def _next_claimed(self) -> asyncpg.Record | None:
        """A leased row for this worker: one already claimed, or a claim for every worker without
        work. One claim at a time per replica: workers queueing on the claim lock would each hold a
        database connection meanwhile, and claiming one row at a time caps the writes per second."""
        async with self._claiming:
            if not self._claimed:
                deps, now = self._deps, self._deps.clock.now()
                limit = max(1, self._workers - self._writing)
                self._claimed = await repository.claim(
                    deps.pool, deps.owner, now, now + deps.config.lease, deps.config.per_user_in_flight, limit
                )
            row = self._claimed.pop() if self._claimed else None
            if self._claimed:
                self._wake.set()  # idle workers take the rest
            return row

    async def _housekeeping(self) -> bool:
        resolved = await calendars.resolve_due(self._resolve)
        if resolved:
            self._wake.set()
        now = self._deps.clock.now()
        if now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            await users.purge(self._deps.pool, self._deps.clock, self._deps.config.pending_retention)
        return False


class InboundSyncs(_Woken[inbound_sync.InboundDeps]):
    """N workers each claim one due calendar at a time and sync it; ``wake()`` makes them look now."""

    def loops(self) -> Loops:
        workers = self._workers_of("sync-inbound", self._sync_once, self._deps.config.workers)
        return [*workers, ("sync-inbound-purge", _forever(self._purge, _hourly))]

    async def _purge(self) -> bool:
        await inbound_sync.purge(self._deps)
        return False

    async def _sync_once(self) -> bool:
        deps, now = self._deps, self._deps.clock.now()
        rows = await calendar_syncs.claim(deps.pool, deps.owner, now, now + deps.config.lease, 1)
        if not rows:
            return False
        await inbound_sync.sync(deps, rows[0])
        return True


class ChannelKeeper(_Woken[channels.ChannelDeps]):
    """Runs a channel round every ``interval`` seconds, or at once after ``wake()``."""

    def loops(self) -> Loops:
        return [("sync-channel-keeper", _forever(self._round, self._idle))]

    async def _round(self) -> bool:
        return await channels.keep(self._deps)  # True after a full batch: the next round at once
