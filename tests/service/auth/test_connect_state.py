"""The OAuth `state` check: forged, expired, replayed or cross-browser callbacks store nothing."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

import asyncpg

from services.auth.adapters.crypto import TokenCipher
from shared.clock import ManualClock
from tests.service.auth import flow
from tests.service.auth.flow import Auth, StartAuth


async def _grants(db: asyncpg.Pool) -> int:
    async with db.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM auth.grants")
        return count


def _refused(page: Any) -> bool:
    return page.status == 400 and 'data-result="invalid_state"' in page.text


async def test_forged_state_is_refused_without_token_exchange(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """A callback with a state we never issued shows an error page; no code is exchanged."""
    async with flow.browser() as http:
        settings = await flow.open_settings(auth, http, await auth.link(flow.new_user_id()))
        callback = await flow.consent(http, await flow.start_connect(auth, http, settings))
        code = flow.query_of(callback)["code"]
        forged = await flow.get(
            http, f"{auth.url}/oauth/callback?code={code}&state={secrets.token_urlsafe(32)}"
        )
        missing = await flow.get(http, f"{auth.url}/oauth/callback?code={code}")
    assert _refused(forged) and _refused(missing)
    assert "Nothing was changed" in forged.text
    assert emulator.token_calls == 0
    assert await _grants(clean_db) == 0


async def test_replayed_callback_is_refused(auth: Auth, emulator: Any, clean_db: asyncpg.Pool) -> None:
    """Opening Google's redirect a second time is refused and changes nothing."""
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        settings = await flow.open_settings(auth, http, await auth.link(user_id))
        callback = await flow.consent(http, await flow.start_connect(auth, http, settings))
        first = await flow.get(http, callback)
        again = await flow.get(http, callback)
    assert 'data-result="connected"' in first.text
    assert _refused(again)
    assert emulator.token_calls == 1
    assert (await auth.status(user_id))["state"] == "connected"


async def test_callback_in_another_browser_is_refused(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """A redirect carried to another browser is refused there, and still completes in the right one."""
    user_id = flow.new_user_id()
    async with flow.browser() as mine, flow.browser() as other:
        settings = await flow.open_settings(auth, mine, await auth.link(user_id))
        callback = await flow.consent(mine, await flow.start_connect(auth, mine, settings))
        stolen = await flow.get(other, callback)
        assert _refused(stolen)
        assert emulator.token_calls == 0 and await _grants(clean_db) == 0
        mine_result = await flow.get(mine, callback)
    assert 'data-result="connected"' in mine_result.text


async def test_expired_state_is_refused(start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool) -> None:
    """Coming back from Google more than ten minutes later is refused; nothing is stored."""
    emulator.add_user("alice@example.com")
    clock = ManualClock()
    async with start_auth(clock=clock) as service, flow.browser() as http:
        settings = await flow.open_settings(service, http, await service.link(flow.new_user_id()))
        callback = await flow.consent(http, await flow.start_connect(service, http, settings))
        clock.advance(timedelta(minutes=10, seconds=1))
        late = await flow.get(http, callback)
    assert _refused(late)
    assert emulator.token_calls == 0
    assert await _grants(clean_db) == 0


async def test_two_tabs_finishing_at_once_leave_one_usable_grant(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """Connecting from two tabs at the same moment ends with one grant whose tokens decrypt."""
    user_id = flow.new_user_id()
    async with flow.browser() as one, flow.browser() as two:
        callbacks = []
        for http in (one, two):
            settings = await flow.open_settings(auth, http, await auth.link(user_id))
            callbacks.append(await flow.consent(http, await flow.start_connect(auth, http, settings)))
        results = await asyncio.gather(flow.get(one, callbacks[0]), flow.get(two, callbacks[1]))
    kinds = sorted(r.text.split('data-result="')[1].split('"')[0] for r in results)
    assert kinds == ["connected", "reconnected"]
    async with clean_db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT grant_id, refresh_token_enc FROM auth.grants WHERE user_id = $1", user_id
        )
    assert len(rows) == 1
    cipher = TokenCipher(auth.config.token_keys)
    token = cipher.open_field(rows[0]["grant_id"], "refresh_token", bytes(rows[0]["refresh_token_enc"]))
    assert token.startswith("1//")
