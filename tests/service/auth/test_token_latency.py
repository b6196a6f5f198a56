"""Token requests never queue behind a refresh batch that is waiting on a slow Google: a still valid
token is handed out at once, and a stale one answers 'temporarily unavailable' after a short wait."""

from __future__ import annotations

import asyncio
from typing import Any

from shared import messages as m
from shared.clock import ManualClock
from shared.rpc import RpcClient
from tests.support.helpers import eventually

from .refresh_support import add_grant, refresh_config, running

GOOGLE_LATENCY = 6.0  # close to the HTTP timeout below: the batch holds its row locks this long
PROMPT = GOOGLE_LATENCY / 2  # answered well before Google would have answered (a busy machine adds seconds)


async def _batch_calling_google(emulator: Any) -> None:
    assert emulator.token_calls_by_grant["refresh_token"] >= 1  # counted when the call arrives


async def _timed_request(client: RpcClient, user_id: str) -> tuple[m.TokenReply, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await client.call(m.TokenRequested(user_id=user_id), timeout=10)
    assert isinstance(reply, m.TokenReply)
    return reply, loop.time() - started


async def test_valid_token_is_handed_out_while_its_grant_is_being_refreshed(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """A grant the scheduler is refreshing against a slow Google still hands out its valid token at
    once, instead of after Google's answer."""
    clock = ManualClock()
    emulator.set_latency("/token", GOOGLE_LATENCY)
    config = refresh_config(common_config("auth"), google_config, http_timeout=GOOGLE_LATENCY + 0.5)
    async with running(config, clock):
        client = RpcClient(broker)
        await client.start()
        g = await add_grant(  # valid for 12 more minutes: due for refresh, still usable
            clean_db, emulator, clock, expires_in=720, last_used=False, next_refresh_at=clock.now()
        )
        await eventually(lambda: _batch_calling_google(emulator))
        reply, elapsed = await _timed_request(client, g["user_id"])
    assert reply.status == "token" and reply.access_token == g["access_token"]
    assert elapsed < PROMPT


async def test_stale_token_request_gives_up_waiting_for_a_busy_grant_quickly(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """A request for an expired token whose grant the scheduler is refreshing against a slow Google
    answers 'temporarily unavailable' after a short wait, and the next request gets the fresh token."""
    clock = ManualClock()
    emulator.set_latency("/token", GOOGLE_LATENCY)
    config = refresh_config(
        common_config("auth"), google_config, http_timeout=GOOGLE_LATENCY + 0.5, lock_wait=0.3
    )
    async with running(config, clock):
        client = RpcClient(broker)
        await client.start()
        g = await add_grant(clean_db, emulator, clock, expires_in=-60, next_refresh_at=clock.now())
        await eventually(lambda: _batch_calling_google(emulator))
        busy, elapsed = await _timed_request(client, g["user_id"])

        async def fresh() -> m.TokenReply:
            reply, _ = await _timed_request(client, g["user_id"])
            assert reply.status == "token"
            return reply

        later = await eventually(fresh, timeout=GOOGLE_LATENCY + 20)
    assert busy.status == "temporarily_unavailable" and busy.retry_after and busy.retry_after > 0
    assert elapsed < PROMPT
    assert later.access_token not in (None, g["access_token"])
    assert emulator.token_calls_by_grant["refresh_token"] == 1
