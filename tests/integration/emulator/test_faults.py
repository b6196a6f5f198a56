"""Fault injection: the emulator fails the way Google does, on demand."""

from __future__ import annotations

import aiohttp
import pytest

from devtools.google_emulator import GoogleEmulator

from .conftest import CALENDARLIST, bearer

LIST = "users/me/calendarList"


@pytest.fixture
def headers(emu: GoogleEmulator) -> dict[str, str]:
    """Alice's Authorization header, for the calendar list only."""
    return bearer(emu, scopes=(CALENDARLIST,))


async def _get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.text()


async def test_fail_next_counts_down(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """fail_next answers the next N matching calls with Google's 503 body, then recovers."""
    emu.fail_next("/calendar/", 503, count=2)
    url = emu.calendar_base_url + LIST
    for _ in range(2):
        status, text = await _get(http, url, headers)
        assert status == 503 and '"backendError"' in text
    assert (await _get(http, url, headers))[0] == 200


async def test_rate_limit_bodies(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """403 and 429 carry usageLimits reasons; quotaExceeded can be chosen."""
    url = emu.calendar_base_url + LIST
    emu.fail_next("/calendar/", 429)
    emu.fail_next("/calendar/", 403, reason="quotaExceeded")
    async with http.get(url, headers=headers) as resp:
        item = (await resp.json())["error"]["errors"][0]
        assert (resp.status, item["domain"], item["reason"]) == (429, "usageLimits", "rateLimitExceeded")
    async with http.get(url, headers=headers) as resp:
        assert (resp.status, (await resp.json())["error"]["errors"][0]["reason"]) == (403, "quotaExceeded")


async def test_fail_for_until_cleared(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """fail_for keeps failing (502 with an HTML body) until clear_faults."""
    emu.fail_for("/calendar/", 502)
    url = emu.calendar_base_url + LIST
    for _ in range(3):
        status, text = await _get(http, url, headers)
        assert status == 502 and text.startswith("<html>")
    emu.clear_faults()
    assert (await _get(http, url, headers))[0] == 200


async def test_token_endpoint_unavailable(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """A 503 on /token has an OAuth-shaped temporarily_unavailable body."""
    emu.fail_next("/token", 503)
    async with http.post(emu.token_url, data={"grant_type": "refresh_token"}) as resp:
        assert (resp.status, (await resp.json())["error"]) == (503, "temporarily_unavailable")


async def test_latency_trips_client_timeout(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """With latency above the caller's timeout, the caller times out; without it, it is answered."""
    emu.set_latency("/calendar/", 0.3)
    url = emu.calendar_base_url + LIST
    with pytest.raises(TimeoutError):
        async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=0.1)):
            pass
    emu.set_latency("/calendar/", 0)
    assert (await _get(http, url, headers))[0] == 200


async def test_dropped_connection(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """A dropped connection closes the socket with no response; the next call works."""
    emu.drop_connections("/calendar/", count=2)  # aiohttp retries a GET once on a reused connection
    url = emu.calendar_base_url + LIST
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _get(http, url, headers)
    assert (await _get(http, url, headers))[0] == 200


async def test_fail_share_fails_a_seeded_share_with_the_chosen_statuses(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """fail_share answers about that share of the calls with the given statuses, the same calls for
    the same seed, counts them, and stops after clear_faults."""
    url = emu.calendar_base_url + LIST
    runs = []
    for _ in range(2):
        emu.fail_share(0.3, [503, 429], seed=7)
        runs.append([(await _get(http, url, headers))[0] for _ in range(60)])
        assert sum(emu.state.faults.injected().values()) == sum(s != 200 for s in runs[-1])
        emu.clear_faults()
    assert runs[0] == runs[1] and set(runs[0]) == {200, 503, 429}
    assert 8 <= sum(s != 200 for s in runs[0]) <= 30
    assert (await _get(http, url, headers))[0] == 200 and emu.state.faults.injected() == {}


async def test_fail_share_timeouts_drop_the_call_unanswered(
    http: aiohttp.ClientSession, emu: GoogleEmulator, headers: dict[str, str]
) -> None:
    """A "timeout" draw holds the reply and closes the connection without one."""
    emu.fail_share(1.0, ["timeout"], hang_seconds=0.2)
    with pytest.raises(aiohttp.ClientError):
        await _get(http, emu.calendar_base_url + LIST, headers)
    assert list(emu.state.faults.injected()) == ["timeout"]  # aiohttp may try a GET twice


def test_fail_share_refuses_what_is_not_a_share_or_status(emu: GoogleEmulator) -> None:
    """A share outside 0..1 or a status that is no error is a clear ValueError."""
    with pytest.raises(ValueError, match="share"):
        emu.fail_share(1.5)
    with pytest.raises(ValueError, match="status"):
        emu.fail_share(0.2, [200])
