"""sync's token request/reply: one refresh for any number of concurrent requests, typed answers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from shared import messages as m
from shared.clock import ManualClock
from shared.rpc import RpcClient
from tests.support.helpers import eventually

from .refresh_support import add_grant, grant_row, metrics_of, refresh_config, running

SLOW_GOOGLE = 5.0  # seconds the emulator's token endpoint takes
# The test's own publishes (with broker confirms) run in the event loop that also runs the auth
# instances under test: on a loaded machine a burst of them takes longer than the 10 s default.
PATIENT_PUBLISH = 60.0
TOKEN_ANSWERS = 'calsync_auth_token_answers_total{status="token"}'


async def test_thousand_concurrent_requests_on_two_instances_make_one_google_call(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """1,000 simultaneous token requests for a grant whose token expired, served by two running auth
    instances (both answer some), reach Google's token endpoint exactly once and all get the same
    fresh token."""
    clock = ManualClock()
    config = refresh_config(common_config("auth"), google_config)
    emulator.set_latency("/token", 0.2)  # a slow Google widens the race
    broker.publish_timeout = PATIENT_PUBLISH  # 1,000 confirmed publishes share the loop with both instances
    async with running(config, clock) as first, running(config, clock) as second:
        g = await add_grant(clean_db, emulator, clock, expires_in=-60)
        client = RpcClient(broker)
        await client.start()
        replies = await asyncio.gather(
            *(client.call(m.TokenRequested(user_id=g["user_id"]), timeout=30) for _ in range(1000))
        )
        answered = [(await metrics_of(url)).get(TOKEN_ANSWERS, 0) for url in (first, second)]
    assert emulator.token_calls_by_grant["refresh_token"] == 1
    assert sum(answered) == 1000 and min(answered) > 0, answered  # both instances served requests
    tokens = {r.access_token for r in replies if isinstance(r, m.TokenReply)}
    assert len(tokens) == 1 and None not in tokens and g["access_token"] not in tokens
    assert all(isinstance(r, m.TokenReply) and r.status == "token" for r in replies)


async def test_typed_answers(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """Unknown users get no_grant, a valid token is handed out as is, force_refresh gets a new one,
    and a dead grant answers disconnected with its reason."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config), clock):
        g = await add_grant(clean_db, emulator, clock, expires_in=3600)
        client = RpcClient(broker)
        await client.start()
        none = await client.call(m.TokenRequested(user_id="nobody"), timeout=10)
        cached = await client.call(m.TokenRequested(user_id=g["user_id"]), timeout=10)
        clock.advance(timedelta(seconds=11))  # past FORCE_REFRESH_MIN_INTERVAL_SECONDS since the connect
        forced = await client.call(m.TokenRequested(user_id=g["user_id"], force_refresh=True), timeout=10)
        emulator.revoke_user(g["email"])
        clock.advance(timedelta(seconds=11))
        dead = await client.call(m.TokenRequested(user_id=g["user_id"], force_refresh=True), timeout=10)
    assert isinstance(none, m.TokenReply) and none.status == "no_grant"
    assert isinstance(cached, m.TokenReply) and cached.access_token == g["access_token"]
    assert isinstance(forced, m.TokenReply) and forced.status == "token"
    assert forced.access_token not in (None, g["access_token"])
    assert isinstance(dead, m.TokenReply) and (dead.status, dead.reason) == ("disconnected", "revoked")
    assert dead.access_token is None


async def test_scheduled_refresh_and_token_requests_share_one_google_call(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """A grant that two instances' schedulers find due while sync asks for its token 200 times is
    refreshed by exactly one call to Google, and every request gets that fresh token."""
    clock = ManualClock()
    config = refresh_config(common_config("auth"), google_config)
    emulator.set_latency("/token", 0.2)
    async with running(config, clock), running(config, clock):
        client = RpcClient(broker)
        await client.start()
        g = await add_grant(clean_db, emulator, clock, expires_in=-60)  # due for the schedulers at once
        replies = await asyncio.gather(
            *(client.call(m.TokenRequested(user_id=g["user_id"]), timeout=30) for _ in range(200))
        )
        row = await grant_row(clean_db, g["grant_id"])
    assert emulator.token_calls_by_grant["refresh_token"] == 1
    tokens = {r.access_token for r in replies if isinstance(r, m.TokenReply) and r.status == "token"}
    assert len(tokens) == 1 and len(replies) == 200 and g["access_token"] not in tokens
    assert row["next_refresh_at"] > clock.now()


async def test_sequential_forced_refreshes_call_google_once(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """40 forced refreshes in a row for one grant make one call to Google: within
    FORCE_REFRESH_MIN_INTERVAL_SECONDS of a working refresh, its fresh token is the answer."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config), clock):
        g = await add_grant(clean_db, emulator, clock, expires_in=3600)
        client = RpcClient(broker)
        await client.start()
        clock.advance(timedelta(seconds=11))
        forced = m.TokenRequested(user_id=g["user_id"], force_refresh=True)
        replies = [await client.call(forced, timeout=10) for _ in range(40)]
        clock.advance(timedelta(seconds=11))
        later = await client.call(forced, timeout=10)
    tokens = {r.access_token for r in replies if isinstance(r, m.TokenReply) and r.status == "token"}
    assert len(tokens) == 1 and g["access_token"] not in tokens
    assert isinstance(later, m.TokenReply) and later.access_token not in tokens | {None}
    assert emulator.token_calls_by_grant["refresh_token"] == 2


async def test_a_burst_of_forced_refreshes_does_not_delay_other_users(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """150 forced refreshes for one grant while Google is slow share one call to Google, and another
    user's cached token is answered while that call is still running: requests waiting on one grant
    hold none of the token consumer's capacity."""
    clock = ManualClock()
    emulator.set_latency("/token", SLOW_GOOGLE)
    broker.publish_timeout = PATIENT_PUBLISH
    config = refresh_config(common_config("auth"), google_config, http_timeout=SLOW_GOOGLE + 1)
    async with running(config, clock):
        busy = await add_grant(clean_db, emulator, clock, expires_in=3600)
        other = await add_grant(clean_db, emulator, clock, expires_in=3600)
        client = RpcClient(broker)
        await client.start()
        clock.advance(timedelta(seconds=11))
        forced = m.TokenRequested(user_id=busy["user_id"], force_refresh=True)
        burst = [asyncio.create_task(client.call(forced, timeout=30)) for _ in range(150)]
        await eventually(lambda: _google_called(emulator), timeout=10)  # the burst is queued and served
        loop = asyncio.get_running_loop()
        started = loop.time()
        cached = await client.call(m.TokenRequested(user_id=other["user_id"]), timeout=30)
        waited = loop.time() - started
        replies = await asyncio.gather(*burst)
    assert isinstance(cached, m.TokenReply) and cached.access_token == other["access_token"]
    assert waited < SLOW_GOOGLE, (
        waited
    )  # waiting requests hold no consumer slot (the old behaviour: over 4 calls)
    assert all(isinstance(r, m.TokenReply) and r.status == "token" for r in replies)
    assert emulator.token_calls_by_grant["refresh_token"] == 1


async def _google_called(emulator: Any) -> None:
    assert emulator.token_calls_by_grant["refresh_token"] >= 1
