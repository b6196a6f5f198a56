"""The settings page's Calendar section in a real headless Chromium, with auth and sync running: the
email's link lands on the picker, the health reads plainly, and a new choice moves the events."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from shared.amqp import Broker
from tests.service.auth.calendar_support import StartAuthAndSync, synced
from tests.service.auth.flow import new_user_id
from tests.service.sync.support import booked, calendar_of, ours

pytestmark = pytest.mark.browser

EMAIL, TEAM = "alice@example.com", "team@group.calendar.google.com"


async def test_choosing_another_calendar_in_a_browser_moves_the_events(
    page: Any, start_auth_and_sync: StartAuthAndSync, emulator: Any, broker: Broker, clean_db: asyncpg.Pool
) -> None:
    """The user connects, opens the email's "Choose a calendar" link, reads the health, picks the
    team calendar, saves, and sees it chosen; the events are now there, and only there."""
    emulator.add_user(EMAIL)
    emulator.add_calendar(EMAIL, TEAM, "Team", access_role="writer")
    user_id = new_user_id()
    async with start_auth_and_sync() as (auth, _):
        await page.goto(await auth.link(user_id, "en"))
        await page.get_by_role("button", name="Connect with Google").click()
        await page.wait_for_selector('#result[data-result="connected"]')
        assert await calendar_of(clean_db, user_id) == EMAIL
        for number in range(2):
            await broker.publish(booked(f"a{number}", user_id, day=number))
        await synced(clean_db, 2, EMAIL)

        await page.goto(await auth.link(user_id, "en") + "#calendar")  # as the email's button does
        assert page.url == auth.url + "/settings#calendar"
        assert await page.inner_text("#sync-headline") == "All appointments are in your calendar."
        picker = page.get_by_label("Choose a calendar")
        assert await picker.input_value() == EMAIL
        await picker.select_option(label="Team")
        await page.get_by_role("button", name="Save").click()
        await page.wait_for_selector("#calendar-notice")
        assert "Saved: your appointments now go to “Team”." in await page.inner_text("#calendar-notice")
        assert await page.get_by_label("Choose a calendar").input_value() == TEAM
        assert page.url.endswith("#calendar")
        await synced(clean_db, 2, TEAM)
    assert sorted(ours(emulator, TEAM)) == ["a0", "a1"] and ours(emulator, EMAIL) == {}
