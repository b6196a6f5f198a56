"""Screenshots of the Google emulator's own page (docs/screenshots/emulator-page.png) and of the
landing pages at / (docs/screenshots/landing-<name>.png): the emulator's, the mail catcher's, and
each service's once it serves one (a service still answering 404 at / is skipped and named)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from devtools.google_emulator import GoogleEmulator
from devtools.google_emulator.demo import DEMO_EMAIL, seed_demo
from devtools.mailcatcher import MailCatcher, web_app
from devtools.screenshots.browser import chromium, scratch_infrastructure
from shared.config import CommonConfig
from tests.support.helpers import serve
from tests.support.service_apps import SERVICES, build_app

EVENTS_SCOPE = "https://www.googleapis.com/auth/calendar.events"


async def _shoot(browser: Any, url: str, path: Path, *, height: int = 640) -> int:
    """Save a full-page PNG of ``url``; returns its HTTP status (nothing is saved unless 200)."""
    context = await browser.new_context(locale="en-GB", viewport={"width": 1000, "height": height})
    try:
        page = await context.new_page()
        response = await page.goto(url)
        status = response.status if response is not None else 0
        if status == 200:
            await page.screenshot(path=str(path), full_page=True)
        return int(status)
    finally:
        await context.close()


async def _services(browser: Any, out_dir: Path, emulator: GoogleEmulator) -> None:
    async with scratch_infrastructure() as (database_url, amqp_url, prefix):
        for service in SERVICES:
            common = CommonConfig(
                service=service,
                database_url=database_url,
                amqp_url=amqp_url,
                amqp_prefix=prefix,
                service_token="shots",
            )
            async with serve(build_app(service, common, emulator)) as url:
                status = await _shoot(browser, url + "/", out_dir / f"landing-{service}.png", height=420)
            if status != 200:
                print(f"screenshots: {service} answers {status} at / (no landing page yet)", file=sys.stderr)


async def capture(out_dir: Path) -> None:
    """Write emulator-page.png and landing-<name>.png."""
    emulator = GoogleEmulator()
    seed_demo(emulator.state)
    emulator.add_grant(DEMO_EMAIL, ["openid", "email", EVENTS_SCOPE])
    emulator.state.risc_receiver_url = "http://127.0.0.1:8081/risc"
    await emulator.start()
    try:
        async with chromium() as browser, MailCatcher() as catcher:
            await _shoot(browser, emulator.base_url + "/_emulator/", out_dir / "emulator-page.png")
            await _shoot(
                browser, emulator.base_url + "/", out_dir / "landing-google-emulator.png", height=420
            )
            runner_app: web.Application = web_app(catcher)
            async with serve(runner_app) as url:
                await _shoot(browser, url + "/", out_dir / "landing-mail-catcher.png", height=420)
            await _services(browser, out_dir, emulator)
    finally:
        await emulator.stop()


if __name__ == "__main__":
    import asyncio

    from devtools.screenshots.__main__ import OUT_DIR

    asyncio.run(capture(OUT_DIR))
