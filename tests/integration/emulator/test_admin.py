"""The `/_emulator/...` admin API drives the same state as the Python methods (for `make run`)."""

from __future__ import annotations

from typing import Any

import aiohttp

from devtools.google_emulator import GoogleEmulator


async def _admin(http: aiohttp.ClientSession, emu: GoogleEmulator, op: str, **body: Any) -> tuple[int, Any]:
    async with http.post(f"{emu.base_url}/_emulator/{op}", json=body) as resp:
        return resp.status, await resp.json()


async def test_seed_and_inspect_over_http(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """Users, calendars and user edits made over HTTP show up in the emulator's views."""
    status, body = await _admin(http, emu, "add_user", email="carol@example.com", sub="4242")
    assert status == 200 and body["result"]["sub"] == "4242"
    await _admin(
        http,
        emu,
        "add_calendar",
        email="carol@example.com",
        calendar_id="team@group.calendar.google.com",
        summary="Team",
        access_role="reader",
    )
    assert emu.role_on("carol@example.com", "team@group.calendar.google.com") == "reader"
    await _admin(
        http,
        emu,
        "user_put_event",
        calendar_id="carol@example.com",
        event={"id": "abc12345", "start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}},
    )
    async with http.get(
        emu.base_url + "/_emulator/events", params={"calendar_id": "carol@example.com"}
    ) as resp:
        assert [e["id"] for e in await resp.json()] == ["abc12345"]


async def test_faults_over_http(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """fail_next set over HTTP fails the next token call; stats are readable over HTTP."""
    await _admin(http, emu, "fail_next", path_prefix="/token", status=500)
    async with http.post(emu.token_url, data={"grant_type": "refresh_token"}) as resp:
        assert resp.status == 500
    async with http.get(emu.base_url + "/_emulator/stats") as resp:
        assert (await resp.json())["token_calls"] == 1


async def test_unknown_operation(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """Only the listed operations are reachable; bad arguments are a 400."""
    assert (await _admin(http, emu, "_init_accounts"))[0] == 404
    assert (await _admin(http, emu, "add_user", nope=1))[0] == 400


async def test_json_sent_as_curl_d_sends_it_is_answered_as_json(
    http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """`curl -d '{...}'` labels its JSON as a form: the README's examples still work, and an error
    comes back as JSON, not as a redirect to the page."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    url = f"{emu.base_url}/_emulator/revoke_user"
    async with http.post(url, data='{"email": "alice@example.com"}', headers=form) as resp:
        assert (resp.status, (await resp.json())["ok"]) == (200, True)
    assert emu.live_grants("alice@example.com") == []
    async with http.post(
        url, data='{"mail": "alice@example.com"}', headers=form, allow_redirects=False
    ) as resp:
        assert resp.status == 400 and "mail" in (await resp.json())["error"]
