"""The webhook's use case: a push notification from Google is checked against the stored channel
(cached in memory for ``cache_seconds``, so an answer takes no database round trip), then either
marks the channel live (``sync``) or hands a sync request to the ``PushIntake`` (``exists``).
Nothing here calls Google; a notification that fails the checks changes nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg
import structlog

from services.sync.adapters import channels
from services.sync.domain.push import KnownChannel, Verdict, judge
from services.sync.usecases.push_intake import PushIntake
from shared.clock import Clock

log = structlog.get_logger(__name__)

MAX_CACHED = 10_000  # channel ids remembered (known or not); the cache starts over beyond that


class ChannelCache:
    """Channel rows by id, each trusted for ``ttl`` seconds; unknown ids are remembered too, so a
    flood of made-up ids costs one read each per ``ttl``."""

    def __init__(self, pool: asyncpg.Pool, *, ttl: float) -> None:
        self._pool, self._ttl = pool, ttl
        self._rows: dict[str, tuple[KnownChannel | None, float]] = {}

    async def get(self, channel_id: str) -> KnownChannel | None:
        now = time.monotonic()
        cached = self._rows.get(channel_id)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        row = await channels.lookup(self._pool, channel_id)
        known = None if row is None else KnownChannel(**dict(row.items()))
        if len(self._rows) >= MAX_CACHED:
            self._rows.clear()
        self._rows[channel_id] = (known, now)
        return known

    def forget(self, channel_id: str) -> None:
        self._rows.pop(channel_id, None)


@dataclass(frozen=True)
class Notification:
    channel_id: str
    token: str | None
    resource_id: str | None
    resource_state: str | None


@dataclass(frozen=True)
class ReceiverDeps:
    pool: asyncpg.Pool
    clock: Clock
    cache: ChannelCache
    intake: PushIntake


async def receive(deps: ReceiverDeps, note: Notification) -> Verdict:
    """Judge the notification and act on it (raises only if the channel could not be read)."""
    channel = await deps.cache.get(note.channel_id)
    verdict = judge(channel, note.token, note.resource_id, note.resource_state)
    if channel is None or verdict in ("unknown", "stopped", "forbidden"):
        return verdict
    if channel.state == "creating":
        await channels.mark_live(deps.pool, channel.channel_id, deps.clock.now())
        deps.cache.forget(channel.channel_id)
    if verdict == "changed":
        deps.intake.notify(channel.user_id, channel.calendar_id)
    return verdict
