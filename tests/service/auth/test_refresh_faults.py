"""A refresh batch survives one grant it cannot handle: the others keep Google's answers, and the bad
grant backs off on its own without anyone being disconnected."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from services.auth.adapters import crypto
from shared import messages as m
from shared.clock import ManualClock
from shared.rpc import RpcClient
from tests.support.helpers import eventually

from .refresh_support import add_grant, grant_row, refresh_config, running

REMOVED_KEY = crypto.TokenCipher((("k0", os.urandom(32)),))  # a key auth no longer has


async def test_undecryptable_grant_backs_off_alone_and_the_batch_keeps_the_others(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any
) -> None:
    """A grant whose refresh token was sealed under a removed key is retried later on its own, while
    the grants refreshed with it keep their new tokens and Google is not asked again."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config, jitter=0.0), clock):
        good = [await add_grant(clean_db, emulator, clock, expires_in=3600) for _ in range(3)]
        bad = await add_grant(clean_db, emulator, clock, expires_in=3600)
        await _seal_under_removed_key(clean_db, bad)
        clock.advance(timedelta(minutes=51))

        async def settled() -> None:
            for g in good:
                assert (await grant_row(clean_db, g["grant_id"]))["last_refreshed_at"] == clock.now()
            assert (await grant_row(clean_db, bad["grant_id"]))["refresh_failures"] == 1

        await eventually(settled, timeout=10)
        row = await grant_row(clean_db, bad["grant_id"])
    assert emulator.token_calls_by_grant["refresh_token"] == 3  # the bad grant never reached Google
    assert row["state"] == "connected" and row["reason"] is None
    assert row["next_refresh_at"] > clock.now() + timedelta(seconds=10)  # backed off, not due again


async def test_token_request_for_an_undecryptable_grant_is_temporarily_unavailable(
    common_config: Any, google_config: Any, emulator: Any, clean_db: Any, broker: Any
) -> None:
    """sync asking for a token whose grant auth cannot decrypt hears 'temporarily unavailable'; the
    user stays connected and Google is not called."""
    clock = ManualClock()
    async with running(refresh_config(common_config("auth"), google_config), clock):
        g = await add_grant(
            clean_db, emulator, clock, expires_in=-60, next_refresh_at=clock.now() + timedelta(days=1)
        )
        await _seal_under_removed_key(clean_db, g)
        client = RpcClient(broker)
        await client.start()
        reply = await client.call(m.TokenRequested(user_id=g["user_id"]), timeout=10)
        row = await grant_row(clean_db, g["grant_id"])
    assert isinstance(reply, m.TokenReply) and reply.status == "temporarily_unavailable"
    assert reply.retry_after and reply.retry_after > 0
    assert (row["state"], row["refresh_failures"]) == ("connected", 1)
    assert emulator.token_calls == 0


async def _seal_under_removed_key(db: Any, g: dict[str, str]) -> None:
    sealed = REMOVED_KEY.seal_field(g["grant_id"], "refresh_token", g["refresh_token"])
    await db.execute(
        "UPDATE auth.grants SET refresh_token_enc = $2 WHERE grant_id = $1", g["grant_id"], sealed
    )
