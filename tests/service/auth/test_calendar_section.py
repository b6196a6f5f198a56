"""The settings page's Calendar section with auth and sync running: the sync health in plain words,
the picker of writable calendars, switching (the appointments move), and a page that still works
while sync cannot be reached."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.auth.config import SyncApiSettings
from shared import messages as m
from shared.amqp import Broker
from tests.service.auth import flow
from tests.service.auth.calendar_support import StartAuthAndSync, headline, synced
from tests.service.auth.flow import StartAuth
from tests.service.sync.support import booked, calendar_of, ours
from tests.support.helpers import eventually

EMAIL, TEAM, BOARD = "alice@example.com", "team@group.calendar.google.com", "board@group.calendar.google.com"


async def test_the_section_shows_the_health_and_switching_moves_the_appointments(
    start_auth_and_sync: StartAuthAndSync, emulator: Any, broker: Broker, clean_db: asyncpg.Pool
) -> None:
    """A connected user sees "all in your calendar", a picker of the calendars they may write to,
    saves another one, and finds the appointments there once, and gone from the old one."""
    emulator.add_user(EMAIL)
    emulator.add_calendar(EMAIL, TEAM, "Team", access_role="writer")
    emulator.add_calendar(EMAIL, BOARD, "Board", access_role="reader")
    user_id = flow.new_user_id()
    async with start_auth_and_sync() as (auth, _), flow.browser() as http:
        await flow.connect(auth, http, user_id)
        assert await calendar_of(clean_db, user_id) == EMAIL
        for number in range(2):
            await broker.publish(booked(f"a{number}", user_id, day=number))
        await synced(clean_db, 2, EMAIL)
        page = await flow.open_settings(auth, http, await auth.link(user_id))
        assert headline(page) == "All appointments are in your calendar."
        assert 'id="calendar"' in page.text and "Last copied just now." in page.text
        assert f'<option value="{EMAIL}" selected>{EMAIL} (main calendar)</option>' in page.text
        assert f'<option value="{TEAM}">Team</option>' in page.text and BOARD not in page.text

        saved = await flow.post(
            http, auth.url + "/settings/calendar", {"csrf": flow.csrf_of(page), "calendar_id": TEAM}
        )
        assert (saved.status, saved.location) == (303, "/settings?calendar=saved#calendar")
        after = await flow.get(http, flow.absolute(auth, saved.location or ""))
        assert "Saved: your appointments now go to “Team”." in after.text
        assert f'<option value="{TEAM}" selected>Team</option>' in after.text
        await synced(clean_db, 2, TEAM)
    assert sorted(ours(emulator, TEAM)) == ["a0", "a1"] and ours(emulator, EMAIL) == {}
    assert all(len(copies) == 1 for copies in ours(emulator, TEAM).values())


async def test_waiting_appointments_are_counted_in_plain_german_and_english(
    start_auth_and_sync: StartAuthAndSync, emulator: Any, broker: Broker, clean_db: asyncpg.Pool
) -> None:
    """Disconnected: "3 appointments are waiting until you reconnect" (German too), without a picker;
    a forged form is refused and a read-only calendar is refused with a reason."""
    emulator.add_user(EMAIL)
    emulator.add_calendar(EMAIL, BOARD, "Board", access_role="reader")
    user_id = flow.new_user_id()
    async with start_auth_and_sync() as (auth, _), flow.browser() as http:
        await flow.connect(auth, http, user_id)
        await calendar_of(clean_db, user_id)
        page = await flow.open_settings(auth, http, await auth.link(user_id))
        refused = await flow.post(
            http, auth.url + "/settings/calendar", {"csrf": flow.csrf_of(page), "calendar_id": BOARD}
        )
        after = await flow.get(http, flow.absolute(auth, refused.location or ""))
        assert "You may not add events to this calendar. Please choose another one." in after.text
        forged = await flow.post(
            http, auth.url + "/settings/calendar", {"csrf": "forged", "calendar_id": EMAIL}
        )
        assert forged.status == 403

        await clean_db.execute(
            "UPDATE auth.grants SET state = 'disconnected', reason = 'revoked' WHERE user_id = $1", user_id
        )
        await broker.publish(
            m.GrantDisconnected(user_id=user_id, grant_id="g", reason="revoked", since=m._now())
        )
        for number in range(3):
            await broker.publish(booked(f"a{number}", user_id, day=number))

        async def waiting(locale: str, text: str) -> None:
            page = await flow.open_settings(auth, http, await auth.link(user_id, locale))
            assert headline(page) == text and 'id="calendar-choice"' not in page.text

        await eventually(lambda: waiting("en", "3 appointments are waiting until you reconnect."))
        await waiting("de", "3 Termine warten, bis Sie die Verbindung erneuern.")


async def test_the_page_works_while_sync_cannot_be_reached(
    start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """With sync down the section says so in plain words; connection state and delete still work."""
    emulator.add_user(EMAIL)
    user_id = flow.new_user_id()
    async with (
        start_auth(sync=SyncApiSettings(url="http://127.0.0.1:1", timeout=1.0)) as auth,
        flow.browser() as http,
    ):
        await flow.connect(auth, http, user_id)
        page = await flow.open_settings(auth, http, await auth.link(user_id))
        assert headline(page).startswith("The state of your appointments cannot be shown right now.")
        assert "Connected to Google Calendar as alice@example.com." in page.text
        assert 'href="/settings/delete"' in page.text and 'id="calendar-choice"' not in page.text
        failed = await flow.post(
            http, auth.url + "/settings/calendar", {"csrf": flow.csrf_of(page), "calendar_id": EMAIL}
        )
        after = await flow.get(http, flow.absolute(auth, failed.location or ""))
        assert "The calendar cannot be changed right now. Nothing was changed." in after.text
