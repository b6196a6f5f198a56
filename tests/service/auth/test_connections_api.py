"""auth's operator listing (``GET /api/v1/connections``): connections by state and reason, never a
token, and a clear 400 for a filter it does not know."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.service.auth import flow
from tests.service.auth.flow import Auth


async def _listing(auth: Auth, query: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=auth.api_headers) as http,
        http.get(f"{auth.url}/api/v1/connections{query}") as r,
    ):
        return r.status, await r.json()


async def test_connections_are_listed_by_state_without_tokens(auth: Auth, emulator: Any) -> None:
    """A connected user is listed under `connected` with their Google account, and under no other
    state; the answer holds none of their tokens."""
    async with flow.browser() as http:
        assert (await flow.connect(auth, http, "u-alice")).status == 200
    status, body = await _listing(auth, "?state=connected")
    assert status == 200
    assert [(c["user_id"], c["state"], c["google_email"]) for c in body["connections"]] == [
        ("u-alice", "connected", "alice@example.com")
    ]
    assert all(token not in str(body) for token in emulator.refresh_tokens_of("alice@example.com"))
    assert (await _listing(auth, "?state=disconnected"))[1] == {"connections": []}


async def test_unknown_filters_are_refused_with_a_reason(auth: Auth) -> None:
    """A state auth does not have, or a limit out of range or not a number, gets 400 naming it."""
    for query, word in (("?state=gone", "state"), ("?limit=0", "limit"), ("?limit=%C2%B2", "limit")):
        status, body = await _listing(auth, query)
        assert status == 400 and word in body["error"], (query, body)
