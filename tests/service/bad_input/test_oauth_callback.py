"""Forged OAuth callbacks to auth (``/oauth/callback``): unknown, replayed or another browser's
``state``, a ``code`` without a session, injected and duplicated parameters, garbage cookies and
huge values. Each gets a clear 4xx page and stores nothing; the browser whose state was used by the
forgers still completes its connection afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
from hypothesis import given
from hypothesis import strategies as st

from services.auth.entrypoints.websession import BROWSER_COOKIE
from tests.service.auth.flow import Auth, browser, consent, get, new_user_id, open_settings, query_of
from tests.service.auth.flow import start_connect as press_connect
from tests.support.raw_http import send

from .strategies import PLAIN, with_bad_character
from .support import BATCH, OnLoop, assert_clear_refusal, run_property


@dataclass(frozen=True)
class Known:
    """What forgers could have learned: the victim's live state and code, a state already used (with
    its browser's cookie, for replays) and another browser's cookie; never the victim's cookie."""

    live_state: str
    live_code: str
    used_state: str
    used_cookie: str
    other_cookie: str


def browser_cookie(http: aiohttp.ClientSession) -> str:
    return next(cookie.value for cookie in http.cookie_jar if cookie.key == BROWSER_COOKIE)


def values(known: Known) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([known.live_state, known.used_state, known.live_code, "", "null", "[]"]),
        PLAIN,
        st.text(st.sampled_from("abcdef0123456789-_"), min_size=20, max_size=64),
        with_bad_character(),
        st.integers(1000, 7000).map(lambda size: "s" * size),
    )


@st.composite
def forged_query(draw: st.DrawFn, known: Known) -> list[tuple[str, str]]:
    """Callback parameters that never carry the live state together with its own browser."""
    names = st.sampled_from(["state", "code", "error", "scope", "iss", "authuser", "prompt", "state[]"])
    pairs = draw(st.lists(st.tuples(names, values(known)), max_size=6))
    if draw(st.booleans()):
        pairs.insert(0, ("state", draw(st.sampled_from([known.live_state, known.used_state]))))
    if draw(st.booleans()):
        pairs.append(("code", draw(st.sampled_from([known.live_code, "4/0Ab-forged"]))))
    return pairs


@st.composite
def forged_cookie(draw: st.DrawFn, known: Known) -> list[tuple[bytes, bytes]]:
    cookie = draw(
        st.sampled_from([None, known.used_cookie, known.other_cookie, "", "x" * 5000])
        | PLAIN.map(lambda text: text.replace(";", ""))
    )
    if cookie is None:
        return []
    raw = cookie.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"")
    return [(b"Cookie", BROWSER_COOKIE.encode() + b"=" + raw)]


async def live_flow(auth: Auth, http: aiohttp.ClientSession, user_id: str) -> str:
    """Open the user's link and press Connect; returns Google's redirect back (not yet followed)."""
    settings = await open_settings(auth, http, await auth.link(user_id))
    return await consent(http, await press_connect(auth, http, settings))


async def grants(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM auth.grants"))


async def test_forged_callbacks_are_refused_and_the_real_one_still_connects(
    auth_service: Auth, module_emulator: Any, module_db: asyncpg.Pool
) -> None:
    """Each generated callback that lacks the live state's own browser gets a clear 4xx and stores
    nothing; afterwards the browser that started the flow completes it and is connected."""
    module_emulator.add_user("alice@example.com")
    on_loop = OnLoop()
    async with browser() as used, browser() as victim, browser() as other:
        replayed = await live_flow(auth_service, used, new_user_id())
        used_cookie = browser_cookie(used)
        assert 'data-result="connected"' in (await get(used, replayed)).text
        victim_user = new_user_id()
        callback = await live_flow(auth_service, victim, victim_user)
        await live_flow(auth_service, other, new_user_id())  # a flow of its own, never finished
        known = Known(
            live_state=query_of(callback)["state"],
            live_code=query_of(callback)["code"],
            used_state=query_of(replayed)["state"],
            used_cookie=used_cookie,
            other_cookie=browser_cookie(other),
        )
        before = await grants(module_db)

        @BATCH
        @given(query=forged_query(known), cookie=forged_cookie(known))
        def refused(query: list[tuple[str, str]], cookie: list[tuple[bytes, bytes]]) -> None:
            encoded = urlencode(query, encoding="utf-8", errors="surrogatepass").encode()
            answer = on_loop(send(auth_service.url, "GET", b"/oauth/callback?" + encoded, cookie))
            assert_clear_refusal(answer.status, answer.content_type, answer.body)

        await run_property(refused)
        assert await grants(module_db) == before
        page = await get(victim, callback)
    assert page.status == 200 and 'data-result="connected"' in page.text, page.text[:500]
    assert (await auth_service.status(victim_user))["state"] == "connected"
