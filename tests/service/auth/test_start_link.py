"""`make run`'s start link: the launcher mints a demo user's settings link with auth's link API and
the service token, and opening it lands on that user's settings page."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from tests.service.auth.flow import Auth, browser, open_settings

RUN_LOCAL = Path(__file__).resolve().parents[3] / "scripts" / "run-local.py"


def run_local() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_local", RUN_LOCAL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_start_link_opens_the_demo_users_settings_page(auth: Auth) -> None:
    """The printed link is auth's signed settings link; following it shows the settings page."""
    launcher = run_local()
    proc = launcher.Proc("auth", [], urlsplit(auth.url).port, "/readyz")
    link = await asyncio.to_thread(launcher.demo_settings_link, proc, auth.service_token, "demo-user")
    assert link is not None and link.startswith(auth.url + "/settings?token=")
    async with browser() as http:
        page = await open_settings(auth, http, link)
    assert "<form" in page.text


async def test_a_wrong_service_token_gives_no_link(auth: Auth) -> None:
    """With a token auth refuses, the launcher prints no link (and says why) instead of crashing."""
    launcher = run_local()
    proc = launcher.Proc("auth", [], urlsplit(auth.url).port, "/readyz")
    assert await asyncio.to_thread(launcher.demo_settings_link, proc, "not-the-token", "demo-user") is None
