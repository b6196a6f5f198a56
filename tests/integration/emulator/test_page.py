"""The emulator's own page (/_emulator/) and its landing page (/): a person sees the accounts,
calendars, events and grants, and its buttons (plain HTML forms) change the emulated Google."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from aiohttp import web

from devtools.google_emulator import GoogleEmulator
from devtools.mailcatcher import MailCatcher, web_app
from tests.integration.emulator.conftest import EVENTS
from tests.support.helpers import serve

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def page_of(http: aiohttp.ClientSession, emu: GoogleEmulator, path: str = "/_emulator/") -> str:
    async with http.get(emu.base_url + path) as response:
        assert response.status == 200 and response.content_type == "text/html"
        return await response.text()


async def press(http: aiohttp.ClientSession, emu: GoogleEmulator, page: str, action: str, button: str) -> str:
    """Submit the form on ``page`` posting to ``action`` whose button reads ``button``; the page after."""
    forms = re.findall(r'<form method="post" action="([^"]+)">(.*?)</form>', page, flags=re.DOTALL)
    chosen = [body for target, body in forms if target == action and f">{button}</button>" in body]
    assert chosen, f"no {button!r} button posting to {action}"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', chosen[0]))
    async with http.post(emu.base_url + action, data=fields, allow_redirects=False) as response:
        assert response.status == 303, await response.text()
        location = response.headers["Location"]
    return await page_of(http, emu, location)


async def test_page_shows_accounts_calendars_events_and_grants(
    emu: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    """Each seeded event appears with its title, time, id and status; a grant appears as live."""
    emu.seed_event(
        "alice@example.com",
        {
            "id": "dentist0001",
            "summary": "Dentist <3pm>",
            "start": {"date": "2030-01-01"},
            "end": {"date": "2030-01-02"},
        },
    )
    emu.seed_event("alice@example.com", {"id": "gone00001", "summary": "Old meeting"})
    emu.user_delete_event("alice@example.com", "gone00001")
    emu.add_grant("alice@example.com", ["openid", EVENTS])
    page = await page_of(http, emu)
    assert "Alice &lt;alice@example.com&gt;" in page
    assert "Dentist &lt;3pm&gt;" in page and "<3pm>" not in page
    assert "2030-01-01" in page and "dentist0001" in page and "confirmed" in page
    assert "Old meeting" in page and "cancelled" in page
    assert "calendar.events" in page and "refresh token" in page
    assert "1//" not in page  # tokens are never shown


async def test_revoke_access_button_ends_the_grants(emu: GoogleEmulator, http: aiohttp.ClientSession) -> None:
    """Pressing "Revoke access" ends alice's grants, and the page then says no app has access."""
    emu.add_grant("alice@example.com", ["openid", EVENTS])
    after = await press(http, emu, await page_of(http, emu), "/_emulator/revoke_user", "Revoke access")
    assert emu.live_grants("alice@example.com") == []
    assert "Done: revoke_user" in after and "No live grants" in after


async def test_delete_and_restore_account_buttons(emu: GoogleEmulator, http: aiohttp.ClientSession) -> None:
    """ "Delete the account" marks it deleted and offers "Restore the account", which undoes it."""
    after = await press(
        http, emu, await page_of(http, emu), "/_emulator/delete_account", "Delete the account"
    )
    assert emu.user("alice@example.com").deleted and ">deleted</span>" in after
    await press(http, emu, after, "/_emulator/restore_account", "Restore the account")
    assert not emu.user("alice@example.com").deleted


async def test_change_password_button_ends_gmail_grants_only(
    emu: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    """ "Change the password" ends a grant holding a Gmail scope and keeps a Calendar-only grant."""
    calendar_only = emu.add_grant("alice@example.com", ["openid", EVENTS])
    emu.add_grant("alice@example.com", ["openid", "https://mail.google.com/"])
    await press(http, emu, await page_of(http, emu), "/_emulator/change_password", "Change the password")
    assert emu.live_grants("alice@example.com") == [calendar_only]


async def test_security_event_button_posts_a_signed_event_to_the_receiver(
    emu: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    """ "Account disabled (hijacking)" delivers a SET for alice to the configured receiver."""
    received: list[Any] = []

    async def receiver(request: web.Request) -> web.Response:
        received.append(await request.text())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/risc", receiver)
    async with serve(app) as url:
        emu.state.risc_receiver_url = url + "/risc"
        page = await page_of(http, emu)
        after = await press(http, emu, page, "/_emulator/risc/send", "Account disabled (hijacking)")
    assert len(received) == 1 and received[0].startswith("eyJ")
    assert "receiver answered 202" in after


async def test_form_from_another_origin_is_refused(emu: GoogleEmulator, http: aiohttp.ClientSession) -> None:
    """A form posted from another site changes nothing."""
    emu.add_grant("alice@example.com", ["openid", EVENTS])
    headers = {**FORM, "Origin": "https://evil.example"}
    async with http.post(
        emu.base_url + "/_emulator/revoke_user",
        data="email=alice%40example.com",
        headers=headers,
        allow_redirects=False,
    ) as response:
        assert response.status == 303 and "error" in response.headers["Location"]
    assert emu.live_grants("alice@example.com")


async def test_emulator_and_mail_catcher_landing_pages(
    emu: GoogleEmulator, http: aiohttp.ClientSession
) -> None:
    """/ of the emulator and of the mail catcher answer 200 with a title saying what they are."""
    landing = await page_of(http, emu, "/")
    assert "<title>Google emulator</title>" in landing and 'href="/_emulator/"' in landing
    assert not [r for r in emu.requests if r.path == "/"]  # the landing page is not Google traffic
    async with MailCatcher() as catcher, serve(web_app(catcher)) as url, http.get(url + "/") as response:
        assert response.status == 200 and "<title>Mail catcher</title>" in await response.text()
