"""A real headless Chromium (Debian's package, driven by Playwright) for browser tests.

No browser is ever downloaded: CHROMIUM_PATH (default /usr/bin/chromium) must exist; the tests are
skipped with a reason when it does not, and `make test` installs it first (scripts/ensure-browser.sh).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest_asyncio.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    """One headless Chromium for the session; each test opens its own context (cookies, storage)."""
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM_PATH} (run scripts/ensure-browser.sh)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@pytest_asyncio.fixture
async def page(chromium: Any) -> AsyncIterator[Any]:
    """A fresh browser context and page (no cookies from other tests)."""
    context = await chromium.new_context(locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    yield page
    await context.close()
