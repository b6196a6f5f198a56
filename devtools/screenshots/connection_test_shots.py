"""The settings page's connection test for auth_pages' screenshots: every step passed, and a grant
Google has ended (step 1 fails with its reason, steps 2 and 3 are not checked). sync runs with
watch channels, so the probe's push reaches it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tests.support.helpers import eventually

EMAIL = {"de": "jürgen.müller@example.com", "en": "alex.smith@example.com"}
Steps = Callable[[Any, str], Awaitable[None]]


def shots(s: Any, locale: str) -> dict[str, Steps]:
    """``settings-connection-test*`` shots for ``auth_pages.Shooter`` ``s``."""

    async def tested(page: Any, user: str) -> None:
        await page.goto(await s.auth.link(user, locale))
        await page.locator("#connection-test-run").click()
        await page.wait_for_selector("#connection-test-result")

    async def passed(page: Any, user: str) -> None:
        await s.connected(page, user, locale)
        await eventually(lambda: _live(s, user), timeout=30)
        await tested(page, user)

    async def dead_grant(page: Any, user: str) -> None:
        await s.connected(page, user, locale)
        await eventually(lambda: _live(s, user), timeout=30)
        s.emulator.revoke_user(EMAIL[locale])
        await tested(page, user)

    return {"settings-connection-test": passed, "settings-connection-test-failed": dead_grant}


async def _live(s: Any, user: str) -> None:
    state = await s.db.fetchval("SELECT state FROM sync.watch_channels WHERE user_id = $1", user)
    assert state == "live"
