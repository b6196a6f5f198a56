"""Targets for the Google contract suite: the emulator (always) and real Google (`-m google_live`).

Live runs need GOOGLE_LIVE_CLIENT_ID, GOOGLE_LIVE_CLIENT_SECRET, GOOGLE_LIVE_REFRESH_TOKEN (a grant
with calendar.events and calendar.calendarlist.readonly) and GOOGLE_LIVE_CALENDAR_ID (a scratch
calendar the account can write); GOOGLE_LIVE_WATCH_ADDRESS (an HTTPS receiver on a verified
domain) enables the watch test. Without them the live variants are skipped.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio

from devtools.google_emulator import GoogleEmulator
from shared.google.calendar import GoogleApiError, GoogleCalendar

EVENTS = "https://www.googleapis.com/auth/calendar.events"
CALENDARLIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
LIVE_ENV = (
    "GOOGLE_LIVE_CLIENT_ID",
    "GOOGLE_LIVE_CLIENT_SECRET",
    "GOOGLE_LIVE_REFRESH_TOKEN",
    "GOOGLE_LIVE_CALENDAR_ID",
)


@dataclass
class Target:
    """What a contract test talks to: our client, a token, a writable calendar."""

    calendar: GoogleCalendar
    token: str
    calendar_id: str
    emulator: GoogleEmulator | None
    watch_address: str | None
    created: list[str] = field(default_factory=list)

    def new_id(self) -> str:
        """A fresh client event id (uuid hex fits Google's base32hex rule); deleted at teardown."""
        event_id = uuid.uuid4().hex
        self.created.append(event_id)
        return event_id

    def emu(self) -> GoogleEmulator:
        """The emulator, or skip: the test needs a control real Google does not offer."""
        if self.emulator is None:
            pytest.skip("needs emulator control")
        return self.emulator


async def _live_token(http: aiohttp.ClientSession) -> str:
    form = {
        "client_id": os.environ["GOOGLE_LIVE_CLIENT_ID"],
        "client_secret": os.environ["GOOGLE_LIVE_CLIENT_SECRET"],
        "refresh_token": os.environ["GOOGLE_LIVE_REFRESH_TOKEN"],
        "grant_type": "refresh_token",
    }
    async with http.post("https://oauth2.googleapis.com/token", data=form) as resp:
        body = await resp.json()
    assert resp.status == 200, body.get("error")
    return str(body["access_token"])


@pytest_asyncio.fixture(params=["emulator", pytest.param("live", marks=pytest.mark.google_live)])
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    """Our Calendar client pointed at the emulator or at real Google."""
    async with aiohttp.ClientSession() as http:
        if request.param == "live":
            if not all(os.environ.get(name) for name in LIVE_ENV):
                pytest.skip("live Google credentials not set")
            base = "https://www.googleapis.com/calendar/v3/"
            token, emu = await _live_token(http), None
            cal_id, watch = os.environ["GOOGLE_LIVE_CALENDAR_ID"], os.environ.get("GOOGLE_LIVE_WATCH_ADDRESS")
        else:
            emu = GoogleEmulator()
            emu.add_user("owner@example.com")
            base = await emu.start()
            token = emu.grant_token("owner@example.com", [EVENTS, CALENDARLIST])
            cal_id, watch, base = "owner@example.com", None, emu.calendar_base_url
        tgt = Target(GoogleCalendar(http, base, timeout=10.0), token, cal_id, emu, watch)
        try:
            yield tgt
        finally:
            for event_id in tgt.created:
                with contextlib.suppress(GoogleApiError):  # already deleted (410) or never created (404)
                    await tgt.calendar.events_delete(token, cal_id, event_id)
            if emu is not None:
                await emu.stop()
