"""Screenshots of auth's settings page in every state and language (with its Calendar section: sync
runs beside auth, with watch channels), the delete confirmation, the OAuth result pages and a link
error, against the Google emulator. The Calendar shots are in ``calendar_shots``, the connection
test's in ``connection_test_shots``."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from devtools.google_emulator import GoogleEmulator
from devtools.screenshots import calendar_shots, connection_test_shots
from devtools.screenshots.browser import chromium, scratch_infrastructure
from services.auth.adapters import links
from services.auth.config import SyncApiSettings
from services.sync.config import ChannelConfig
from shared.amqp import Broker
from shared.config import BrokerUsers, CommonConfig
from tests.service.auth.flow import LINK_SECRET, Auth, running_auth
from tests.service.sync.support import running_sync
from tests.support.service_apps import google_for

EMAIL = {"de": "jürgen.müller@example.com", "en": "alex.smith@example.com"}
CAL_LIST = "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
CHANNELS = ChannelConfig(interval=0.2, cache_seconds=0.1)  # pushes reach sync (the connection test's step 3)


class Shooter:
    def __init__(
        self, auth: Auth, emulator: GoogleEmulator, browser: Any, db: asyncpg.Pool, out: Path, bus: Broker
    ) -> None:
        self.auth, self.emulator, self.browser, self.db, self.out = auth, emulator, browser, db, out
        self.bus = bus  # publishes what the platform and auth would (appointments, grant events)

    async def shot(self, name: str, locale: str, steps: Callable[[Any, str], Awaitable[None]]) -> None:
        """Run ``steps(page, user_id)`` for a new user in a fresh browser and save the final page."""
        self.emulator.set_consent(EMAIL[locale])
        context = await self.browser.new_context(
            locale="de-DE" if locale == "de" else "en-GB", viewport={"width": 820, "height": 640}
        )
        page = await context.new_page()
        try:
            await steps(page, "user-" + uuid.uuid4().hex[:8])
            await page.screenshot(path=str(self.out / f"auth-{name}-{locale}.png"), full_page=True)
        finally:
            await context.close()

    async def open(self, page: Any, user_id: str, locale: str) -> None:
        await page.goto(await self.auth.link(user_id, locale))

    async def connected(self, page: Any, user_id: str, locale: str) -> None:
        await self.open(page, user_id, locale)
        await page.locator("#connect").click()
        await page.wait_for_selector("#result")

    async def set_state(self, user_id: str, state: str, reason: str | None) -> None:
        async with self.db.acquire() as conn:
            await conn.execute(
                "UPDATE auth.grants SET state = $2, reason = $3 WHERE user_id = $1", user_id, state, reason
            )


async def _all(s: Shooter, locale: str) -> None:
    async def none(page: Any, user: str) -> None:
        await s.open(page, user, locale)

    async def connected(page: Any, user: str) -> None:
        await s.connected(page, user, locale)
        await page.locator("#back").click()

    def in_state(state: str, reason: str | None) -> Callable[[Any, str], Awaitable[None]]:
        async def steps(page: Any, user: str) -> None:
            await s.connected(page, user, locale)
            await s.set_state(user, state, reason)
            await page.locator("#back").click()

        return steps

    async def confirm_delete(page: Any, user: str) -> None:
        await connected(page, user)
        await page.locator("#delete").click()

    async def deleted(page: Any, user: str) -> None:
        await confirm_delete(page, user)
        await page.locator("#confirm").check()
        await page.locator("#confirm-delete").click()
        await page.wait_for_selector("#state")

    async def missing_scopes(page: Any, user: str) -> None:
        # a Google account that never granted us anything (include_granted_scopes would add old grants)
        fresh = f"{uuid.uuid4().hex[:6]}.{EMAIL[locale]}"
        s.emulator.add_user(fresh)
        s.emulator.set_consent(fresh, granted_scopes=["openid", "email", CAL_LIST])
        await s.connected(page, user, locale)

    async def denied(page: Any, user: str) -> None:
        s.emulator.set_consent(EMAIL[locale], deny=True)
        await s.connected(page, user, locale)

    async def invalid_state(page: Any, user: str) -> None:
        await s.open(page, user, locale)
        await page.goto(s.auth.url + "/oauth/callback?code=x&state=forged")

    async def expired_link(page: Any, user: str) -> None:
        past = datetime(2026, 1, 1, tzinfo=UTC)
        token = links.mint(LINK_SECRET, links.SETTINGS, user_id=user, locale=locale, expires_at=past)
        await page.goto(f"{s.auth.url}/settings?token={token}")

    shots: dict[str, Callable[[Any, str], Awaitable[None]]] = {
        "settings-none": none,
        "settings-connected": connected,
        "settings-disconnected-revoked": in_state("disconnected", "revoked"),
        "settings-disconnected-admin-policy": in_state("disconnected", "admin_policy"),
        "settings-suspended": in_state("suspended", "security_block"),
        "delete-confirm": confirm_delete,
        "settings-deleted": deleted,
        "result-connected": lambda page, user: s.connected(page, user, locale),
        "result-missing-scopes": missing_scopes,
        "result-denied": denied,
        "result-invalid-state": invalid_state,
        "error-link-expired": expired_link,
    }
    shots.update(calendar_shots.shots(s, locale))
    shots.update(connection_test_shots.shots(s, locale))
    for name, steps in shots.items():
        await s.shot(name, locale, steps)


async def capture(out_dir: Path) -> None:
    """Write docs/screenshots/auth-<page>-<de|en>.png."""
    emulator = GoogleEmulator()
    await emulator.start()
    for email in EMAIL.values():
        emulator.add_user(email)
    try:
        async with scratch_infrastructure() as (database_url, amqp_url, prefix):
            # every service logs in as the admin user here, so publisher verification is off
            users = BrokerUsers(verify=False)
            common = CommonConfig(
                service="auth",
                database_url=database_url,
                amqp_url=amqp_url,
                amqp_prefix=prefix,
                service_token="shots",
                broker_users=users,
            )
            db = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
            bus = Broker(amqp_url, prefix=prefix, users=users)
            await bus.connect()
            try:
                async with (
                    running_sync(
                        replace(common, service="sync"), google_for(emulator), channels=CHANNELS
                    ) as sync,
                    running_auth(common, google_for(emulator), sync=SyncApiSettings(url=sync.url)) as auth,
                    chromium() as browser,
                ):
                    shooter = Shooter(auth, emulator, browser, db, out_dir, bus)
                    for locale in ("de", "en"):
                        await _all(shooter, locale)
            finally:
                await bus.close()
                await db.close()
    finally:
        await emulator.stop()
