"""The settings page in a real headless Chromium: connect, delete with confirmation, connect again,
and the German page with its umlauts."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.service.auth.flow import StartAuth, new_user_id

pytestmark = pytest.mark.browser


async def _state(page: Any) -> str:
    value: str = await page.locator("#state").get_attribute("data-state")
    return value


async def test_connect_delete_and_connect_again_in_a_browser(
    page: Any, start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """A user opens the link, connects, deletes after ticking the box, and connects again."""
    emulator.add_user("alice@example.com")
    user_id = new_user_id()
    async with start_auth(revoke_retry_interval=0.05) as auth:
        await page.goto(await auth.link(user_id, "en"))
        assert page.url == auth.url + "/settings"  # the signed link left the address bar
        assert await _state(page) == "none"
        await page.get_by_role("button", name="Connect with Google").click()
        await page.wait_for_selector('#result[data-result="connected"]')
        assert "alice@example.com" in await page.inner_text("main")

        await page.get_by_role("link", name="Back to settings").click()
        assert await _state(page) == "connected"
        await page.get_by_role("link", name="Delete connection").click()
        await page.get_by_role("button", name="Delete for good").click()  # box not ticked: the form stays
        assert page.url == auth.url + "/settings/delete"
        await page.get_by_label("Yes, delete the connection to alice@example.com.").check()
        await page.get_by_role("button", name="Delete for good").click()
        await page.wait_for_selector('#state[data-state="none"]')
        assert "The connection was deleted" in await page.inner_text("main")
        assert (await auth.status(user_id))["state"] == "none"

        await page.get_by_role("button", name="Connect with Google").click()
        await page.wait_for_selector('#result[data-result="connected"]')
        assert (await auth.status(user_id))["state"] == "connected"


async def test_german_page_shows_umlauts(
    page: Any, start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """A German link shows the German page, umlauts intact, and a revoked grant explained."""
    emulator.add_user("jürgen@example.com")
    emulator.set_consent("jürgen@example.com")
    user_id = new_user_id()
    async with start_auth() as auth:
        await page.goto(await auth.link(user_id, "de"))
        assert await page.get_attribute("html", "lang") == "de"
        await page.get_by_role("button", name="Mit Google verbinden").click()
        await page.wait_for_selector('#result[data-result="connected"]')
        async with clean_db.acquire() as conn:
            await conn.execute(
                "UPDATE auth.grants SET state = 'disconnected', reason = 'revoked' WHERE user_id = $1",
                user_id,
            )
        await page.get_by_role("link", name="Zurück zu den Einstellungen").click()
        text = await page.inner_text("main")
        assert "Getrennt: Google hat den Zugriff beendet, zum Beispiel nach einer Passwortänderung" in text
        assert "Verbindung löschen" in text and "Google-Konto: jürgen@example.com" in text
        await page.get_by_role("link", name="Verbindung löschen").click()
        assert "Ja, ich möchte die Verbindung zu jürgen@example.com löschen." in await page.inner_text("main")


async def test_another_users_link_asks_before_switching_in_a_browser(
    page: Any, start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """A browser showing one user's settings that opens another user's link is asked first; staying
    keeps the first user's page and connecting still acts for them, switching opens the other's."""
    emulator.add_user("alice@example.com")
    victim, attacker = new_user_id(), new_user_id()
    async with start_auth() as auth:
        await page.goto(await auth.link(victim, "en", display_name="Vera"))
        assert f"Vera ({victim})" in await page.inner_text("#platform-account")
        attacker_link = await auth.link(attacker, "en", display_name="Mallory")

        await page.goto(attacker_link)
        assert "Open another account?" in await page.inner_text("main")
        await page.get_by_role("link", name=f"Stay with Vera ({victim})").click()
        assert f"Vera ({victim})" in await page.inner_text("#platform-account")
        await page.get_by_role("button", name="Connect with Google").click()
        await page.wait_for_selector('#result[data-result="connected"]')
        assert (await auth.status(victim))["state"] == "connected"
        assert (await auth.status(attacker))["state"] == "none"

        await page.goto(attacker_link)
        await page.get_by_role("button", name=f"Switch to Mallory ({attacker})").click()
        await page.wait_for_selector("#platform-account")
        assert f"Mallory ({attacker})" in await page.inner_text("#platform-account")
        assert await _state(page) == "none"
