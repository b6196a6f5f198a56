"""The connection test in a real headless Chromium, with auth and sync running: the button on the
settings page, the results in plain German, and the result section in view after the POST."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from services.sync.config import ChannelConfig
from tests.service.auth.calendar_support import StartAuthAndSync
from tests.service.auth.flow import new_user_id
from tests.service.auth.test_connection_test import live_channel
from tests.service.sync.support import calendar_of

pytestmark = pytest.mark.browser

EMAIL = "alice@example.com"
WATCHED = ChannelConfig(interval=0.1, cache_seconds=0.1, test_push_wait=15.0)


async def test_pressing_the_button_shows_three_passed_steps_in_german(
    page: Any, start_auth_and_sync: StartAuthAndSync, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """A German user connects, presses "Verbindung testen", and reads that all three steps passed."""
    emulator.add_user(EMAIL)
    user_id = new_user_id()
    async with start_auth_and_sync(channels=WATCHED) as (auth, _):
        await page.goto(await auth.link(user_id, "de"))
        await page.get_by_role("button", name="Mit Google verbinden").click()
        await page.wait_for_selector('#result[data-result="connected"]')
        calendar_id = await calendar_of(clean_db, user_id)
        await live_channel(clean_db, user_id)
        await page.goto(await auth.link(user_id, "de"))
        await page.get_by_role("button", name="Verbindung testen").click()
        await page.wait_for_selector("#connection-test-result")
        assert page.url == auth.url + "/settings/connection-test#connection-test"
        assert await page.inner_text("#connection-test-summary") == "Alles funktioniert."
        for step in ("grant", "calendar", "channel"):
            assert await page.get_attribute(f"#test-{step}", "data-status") == "ok"
        assert f"„{calendar_id}“ gespeichert und sofort wieder gelöscht" in await page.inner_text(
            "#test-calendar"
        )
        assert await page.is_visible("#connection-test-result")
