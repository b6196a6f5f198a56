"""Our Calendar client's error mapping, driven by emulator faults and roles (docs/google.md §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from devtools.google_emulator import GoogleEmulator
from shared.google.calendar import (
    GoogleApiError,
    GoogleCalendar,
    GoogleTransportError,
    classify,
    is_rate_limited,
    is_retryable,
)

from .conftest import CALENDARLIST, EVENTS

EVENT = {"start": {"date": "2031-01-01"}, "end": {"date": "2031-01-02"}}


@pytest_asyncio.fixture
async def setup() -> AsyncIterator[tuple[GoogleEmulator, GoogleCalendar, str]]:
    emu = GoogleEmulator()
    emu.add_user("owner@example.com")
    await emu.start()
    async with aiohttp.ClientSession() as http:
        token = emu.grant_token("owner@example.com", [EVENTS, CALENDARLIST])
        yield emu, GoogleCalendar(http, emu.calendar_base_url, timeout=2.0), token
    await emu.stop()


async def _error(awaitable: object) -> GoogleApiError:
    with pytest.raises(GoogleApiError) as info:
        await awaitable  # type: ignore[misc]
    return info.value


async def test_missing_scope_is_insufficient_permissions(
    setup: tuple[GoogleEmulator, GoogleCalendar, str],
) -> None:
    """A token without calendar.events cannot insert: insufficient_permissions, not a dead grant."""
    emu, cal, _ = setup
    narrow = emu.grant_token("owner@example.com", [CALENDARLIST])
    err = await _error(cal.events_insert(narrow, "primary", dict(EVENT)))
    assert (err.status, err.reason, classify(err)) == (
        403,
        "insufficientPermissions",
        "insufficient_permissions",
    )
    assert (await cal.calendar_get(narrow, "primary"))["primary"] is True


async def test_reader_role_is_no_writer_access(setup: tuple[GoogleEmulator, GoogleCalendar, str]) -> None:
    """Writing to a calendar shared read-only is 403 requiredAccessLevel: no_writer_access."""
    emu, cal, token = setup
    emu.add_calendar("owner@example.com", "team@group.calendar.google.com", "Team", access_role="reader")
    err = await _error(cal.events_insert(token, "team@group.calendar.google.com", dict(EVENT)))
    assert (err.reason, classify(err)) == ("requiredAccessLevel", "no_writer_access")


async def test_revoked_and_expired_tokens_are_auth(setup: tuple[GoogleEmulator, GoogleCalendar, str]) -> None:
    """Expired or revoked access tokens give 401 authError located at the Authorization header."""
    emu, cal, token = setup
    emu.expire_access_tokens()
    err = await _error(cal.calendar_list(token))
    item = err.body["error"]["errors"][0]  # type: ignore[index]
    assert (err.status, item["reason"], item["location"], classify(err)) == (
        401,
        "authError",
        "Authorization",
        "auth",
    )


async def test_rate_limits_and_quota(setup: tuple[GoogleEmulator, GoogleCalendar, str]) -> None:
    """403/429 rate limits are rate_limit; quotaExceeded is quota; both are retryable."""
    emu, cal, token = setup
    emu.fail_next("/calendar/", 429)
    emu.fail_next("/calendar/", 403, reason="userRateLimitExceeded")
    emu.fail_next("/calendar/", 403, reason="quotaExceeded")
    errs = [await _error(cal.calendar_list(token)) for _ in range(3)]
    assert [classify(e) for e in errs] == ["rate_limit", "rate_limit", "quota"]
    assert is_rate_limited(errs[0]) and all(is_retryable(e) for e in errs)


async def test_non_json_error_body(setup: tuple[GoogleEmulator, GoogleCalendar, str]) -> None:
    """A 502 HTML page still becomes a GoogleApiError (no reason) classified transient."""
    emu, cal, token = setup
    emu.fail_next("/calendar/", 502)
    err = await _error(cal.events_list(token, "primary"))
    assert (err.status, err.reason, classify(err)) == (502, None, "transient")
    assert "raw" in err.body  # type: ignore[operator]


async def test_transport_errors(setup: tuple[GoogleEmulator, GoogleCalendar, str]) -> None:
    """A dropped connection or a response slower than the timeout is a GoogleTransportError."""
    emu, cal, token = setup
    emu.drop_connections("/calendar/", count=2)  # aiohttp retries a GET once on a reused connection
    with pytest.raises(GoogleTransportError) as dropped:
        await cal.events_insert(token, "primary", dict(EVENT))
    assert classify(dropped.value) == "transient"
    emu.set_latency("/calendar/", 0.3)
    with pytest.raises(GoogleTransportError):
        await GoogleCalendar(cal._http, emu.calendar_base_url, timeout=0.1).calendar_list(token)


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (409, "conflict", "transient"),
        (410, "updatedMinTooLongAgo", "sync_token_invalid"),
        (410, "deleted", "gone"),
        (403, "forbiddenForNonOrganizer", "bad_request"),
        (403, None, "bad_request"),
        (500, "backendError", "transient"),
        (408, None, "transient"),
        (400, "timeRangeEmpty", "bad_request"),
    ],
)
def test_classification_table(status: int, reason: str | None, expected: str) -> None:
    """Status plus errors[0].reason decide the class; a 403 is never judged by status alone."""
    assert classify(GoogleApiError(status, reason, None)) == expected
