"""Watch channels: the emulator pushes like Google (docs/google.md §9)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import aiohttp
import pytest

from devtools.google_emulator import GoogleEmulator

from .conftest import EVENTS, Receiver

EVENT = {"start": {"date": "2030-05-01"}, "end": {"date": "2030-05-02"}}


async def _watch(
    http: aiohttp.ClientSession, emu: GoogleEmulator, token: str, address: str, channel_id: str = "chan-1"
) -> tuple[int, dict[str, object]]:
    body = {
        "id": channel_id,
        "type": "web_hook",
        "address": address,
        "token": "tok-1",
        "params": {"ttl": "3600"},
    }
    url = emu.calendar_base_url + "calendars/primary/events/watch"
    async with http.post(url, json=body, headers={"Authorization": "Bearer " + token}) as resp:
        return resp.status, await resp.json()


@pytest.fixture
def token(emu: GoogleEmulator) -> str:
    return emu.grant_token("alice@example.com", [EVENTS])


async def test_watch_sends_sync_then_exists(
    http: aiohttp.ClientSession, emu: GoogleEmulator, receiver: Receiver, token: str
) -> None:
    """A new channel gets a `sync` ping at once, and each change an `exists` ping with all headers."""
    status, channel = await _watch(http, emu, token, receiver.url)
    assert status == 200 and channel["kind"] == "api#channel" and isinstance(channel["expiration"], str)
    sync = await receiver.next()
    assert sync.body == b""
    assert sync.headers["X-Goog-Resource-State"] == "sync" and sync.headers["X-Goog-Message-Number"] == "1"
    emu.user_put_event("alice@example.com", {"summary": "dentist", **EVENT})
    ping = await receiver.next()
    assert ping.headers["User-Agent"].startswith("APIs-Google")
    assert ping.headers["X-Goog-Channel-ID"] == "chan-1"
    assert ping.headers["X-Goog-Channel-Token"] == "tok-1"
    assert ping.headers["X-Goog-Resource-ID"] == channel["resourceId"]
    assert ping.headers["X-Goog-Resource-URI"] == channel["resourceUri"]
    assert ping.headers["X-Goog-Resource-State"] == "exists"
    assert int(ping.headers["X-Goog-Message-Number"]) > 1
    expires = parsedate_to_datetime(ping.headers["X-Goog-Channel-Expiration"])
    assert abs(expires.timestamp() * 1000 - int(str(channel["expiration"]))) < 1000


async def test_dropped_push(
    http: aiohttp.ClientSession, emu: GoogleEmulator, receiver: Receiver, token: str
) -> None:
    """A dropped ping never arrives; the next change is delivered again."""
    await _watch(http, emu, token, receiver.url)
    await receiver.next()
    emu.drop_next_push()
    emu.user_put_event("alice@example.com", {"id": "lost00001", **EVENT})
    emu.user_put_event("alice@example.com", {"id": "seen00001", **EVENT})
    await emu.flush_pushes()
    assert receiver.received.qsize() == 1
    assert [p.dropped for p in emu.pushes] == [False, True, False]
    emu.drop_pushes(True)
    emu.user_delete_event("alice@example.com", "seen00001")
    await emu.flush_pushes()
    assert receiver.received.qsize() == 1


async def test_5xx_reply_is_retried(
    http: aiohttp.ClientSession, emu: GoogleEmulator, receiver: Receiver, token: str
) -> None:
    """A receiver answering 503 gets the same ping again."""
    receiver.statuses[:] = [503]
    await _watch(http, emu, token, receiver.url)
    first, second = await receiver.next(), await receiver.next()
    assert first.headers["X-Goog-Message-Number"] == second.headers["X-Goog-Message-Number"] == "1"
    await emu.flush_pushes()
    assert emu.pushes[-1].status == 204


async def test_stop_ends_pushes(
    http: aiohttp.ClientSession, emu: GoogleEmulator, receiver: Receiver, token: str
) -> None:
    """After channels.stop (204) no more pings come; stopping again is 404."""
    _, channel = await _watch(http, emu, token, receiver.url)
    await receiver.next()
    stop = {"id": channel["id"], "resourceId": channel["resourceId"]}
    headers = {"Authorization": "Bearer " + token}
    async with http.post(emu.calendar_base_url + "channels/stop", json=stop, headers=headers) as resp:
        assert resp.status == 204 and await resp.read() == b""
    emu.user_put_event("alice@example.com", {**EVENT})
    await emu.flush_pushes()
    assert receiver.received.empty()
    async with http.post(emu.calendar_base_url + "channels/stop", json=stop, headers=headers) as resp:
        assert resp.status == 404


async def test_watch_address_rules(http: aiohttp.ClientSession, emu: GoogleEmulator, token: str) -> None:
    """Plain-http addresses are refused except on loopback; channel ids must be unique."""
    status, body = await _watch(http, emu, token, "http://sync.example/hook")
    assert status == 400
    status, _ = await _watch(http, emu, token, "https://sync.example/hook", channel_id="c-ok")
    assert status == 200
    status, body = await _watch(http, emu, token, "https://sync.example/hook", channel_id="c-ok")
    assert status == 400 and "not unique" in str(body)
    await emu.flush_pushes()
