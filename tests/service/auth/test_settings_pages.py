"""The settings page behind signed links: honest state texts in both languages, link errors,
CSRF protection, and the link and status API."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest

from shared.clock import ManualClock
from tests.service.auth import flow
from tests.service.auth.flow import Auth, StartAuth


async def _set_state(db: asyncpg.Pool, user_id: str, state: str, reason: str | None) -> None:
    async with db.acquire() as conn:
        await conn.execute(
            "UPDATE auth.grants SET state = $2, reason = $3 WHERE user_id = $1", user_id, state, reason
        )


async def test_german_page_explains_a_revoked_grant(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """A German user whose grant Google ended reads why in plain words and can reconnect or delete."""
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        await flow.connect(auth, http, user_id, locale="de")
        await _set_state(clean_db, user_id, "disconnected", "revoked")
        page = await flow.open_settings(auth, http, await auth.link(user_id, "de"))
    assert '<html lang="de">' in page.text
    assert "Getrennt: Google hat den Zugriff beendet, zum Beispiel nach einer Passwortänderung" in page.text
    assert "Ihre Termine gehen nicht verloren" in page.text
    assert "Erneut verbinden" in page.text and "Verbindung löschen" in page.text


@pytest.mark.parametrize(
    ("state", "reason", "words"),
    [
        ("none", None, "Not connected."),
        ("connected", None, "Connected to Google Calendar as alice@example.com."),
        ("disconnected", "account_deleted", "Google Account was deleted or disabled"),
        ("disconnected", "admin_policy", "Please contact your administrator."),
        ("disconnected", "security_block", "blocked access for security reasons"),
        ("disconnected", "access_expired", "time-limited access you gave has run out"),
        ("suspended", "security_block", "Paused: Google has temporarily locked your Google Account"),
    ],
)
async def test_each_state_reads_plainly(
    auth: Auth, clean_db: asyncpg.Pool, state: str, reason: str | None, words: str
) -> None:
    """Every connection state and reason has its own honest sentence on the page."""
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        if state != "none":
            await flow.connect(auth, http, user_id)
            await _set_state(clean_db, user_id, state, reason)
        page = await flow.open_settings(auth, http, await auth.link(user_id))
    assert f'data-state="{state}"' in page.text
    assert words in page.text


async def test_forged_link_gets_an_error_page(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """A link whose signature or user was changed opens nothing but a clear error page."""
    link = await auth.link("user-a")
    payload, _, signature = link.split("token=")[1].partition(".")
    async with flow.browser() as http:
        bad_signature = await flow.get(http, link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
        swapped = await flow.get(http, f"{auth.url}/settings?token={payload}x.{signature}")
        garbage = await flow.get(http, f"{auth.url}/settings?token=nonsense")
        no_session = await flow.get(http, auth.url + "/settings")
    for page in (bad_signature, swapped, garbage):
        assert page.status == 403 and "This link is not valid" in page.text
        assert "set-cookie" not in page.text.lower()
    assert no_session.status == 403 and "Please open the settings again" in no_session.text


async def test_expired_link_gets_410(start_auth: StartAuth, emulator: Any, clean_db: asyncpg.Pool) -> None:
    """An expired link says so (410), in German when the browser prefers German."""
    clock = ManualClock()
    async with start_auth(clock=clock) as auth:
        link = await auth.link("user-b", "de", ttl_seconds=60)
        clock.advance(timedelta(seconds=61))
        german = {"Accept-Language": "de-DE,de;q=0.9"}
        async with aiohttp.ClientSession(headers=german) as http, http.get(link, allow_redirects=False) as r:
            assert r.status == 410
            assert "Dieser Link ist abgelaufen" in await r.text()


async def test_forms_need_the_session_and_its_csrf_token(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """Connect and Delete are refused without the page's CSRF token or from a browser without the session."""
    user_id = flow.new_user_id()
    async with flow.browser() as http, flow.browser() as stranger:
        await flow.connect(auth, http, user_id)
        settings = await flow.open_settings(auth, http, await auth.link(user_id))
        wrong = await flow.post(http, auth.url + "/settings/delete", {"csrf": "guess", "confirm": "yes"})
        missing = await flow.post(http, auth.url + "/oauth/start", {})
        foreign = await flow.post(
            stranger, auth.url + "/settings/delete", {"csrf": flow.csrf_of(settings), "confirm": "yes"}
        )
    assert wrong.status == 403 and missing.status == 403 and foreign.status == 403
    assert (await auth.status(user_id))["state"] == "connected"


async def test_pages_are_not_cached_framed_or_leaked_by_referer(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """The settings page forbids caching, framing and Referer headers that could carry the link."""
    async with flow.browser() as http:
        first = await http.get(await auth.link(flow.new_user_id()), allow_redirects=False)
        cookie = first.headers["Set-Cookie"]
        first.release()
        async with http.get(auth.url + "/settings", allow_redirects=False) as page:
            headers = page.headers
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


async def test_link_api_checks_its_input_and_the_service_token(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """The link API answers 201 with an expiring URL, 400 on bad input and 401 without the service token."""
    url = f"{auth.url}/api/v1/users/user-c/link"
    async with aiohttp.ClientSession(headers=auth.api_headers) as api:
        async with api.post(url, json={"locale": "de", "ttl_seconds": 3600}) as r:
            body = await r.json()
            assert r.status == 201 and body["url"].startswith(auth.url + "/settings?token=")
            assert body["expires_at"]
        for bad in (
            {"locale": "fr"},
            {"locale": "en", "ttl_seconds": 5},
            {"locale": "en", "ttl_seconds": "x"},
        ):
            async with api.post(url, json=bad) as r:
                assert r.status == 400, bad
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.post(url, json={"locale": "de"}) as r:
            assert r.status == 401
        async with anonymous.get(f"{auth.url}/api/v1/users/user-c/connection") as r:
            assert r.status == 401


@pytest.mark.parametrize("depth", [30_000, 100_000])
async def test_link_api_refuses_a_deeply_nested_body(auth: Auth, clean_db: asyncpg.Pool, depth: int) -> None:
    """A link request nested far beyond any real body is refused with 400, and the API keeps answering."""
    url = f"{auth.url}/api/v1/users/user-c/link"
    async with aiohttp.ClientSession(headers=auth.api_headers) as api:
        nested = "[" * depth + "]" * depth
        async with api.post(url, data=nested, headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400
            assert (await r.json())["error"] in {"invalid_json", "body_too_large"}
        async with api.post(url, json={"locale": "en"}) as r:
            assert r.status == 201


async def test_page_names_the_platform_account(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """The settings page says which platform account it acts for: the display name the platform gave
    with the link, and the user id."""
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        named = await flow.open_settings(auth, http, await auth.link(user_id, display_name="Alice Example"))
    async with flow.browser() as http:
        unnamed = await flow.open_settings(auth, http, await auth.link(user_id, "de"))
    assert f"Settings for the platform account Alice Example ({user_id})." in named.text
    assert f"Einstellungen für das Plattform-Konto {user_id}." in unnamed.text


@pytest.mark.parametrize(
    ("locale", "question", "answer"),
    [("en", "Open another account?", "Switch to"), ("de", "Anderes Konto öffnen?", "Zu")],
)
async def test_a_link_for_another_user_asks_before_switching(
    auth: Auth, emulator: Any, clean_db: asyncpg.Pool, locale: str, question: str, answer: str
) -> None:
    """A browser with a session for one platform user that opens another user's link is asked first,
    in the link's language; its session stays until the user confirms the switch."""
    victim, attacker = flow.new_user_id(), flow.new_user_id()
    async with flow.browser() as http:
        await flow.open_settings(auth, http, await auth.link(victim, display_name="Vera"))
        asked = await flow.get(http, await auth.link(attacker, locale, display_name="Mallory"))
        unchanged = await flow.get(http, auth.url + "/settings")
        forged = await flow.post(http, auth.url + "/settings/switch", {"csrf": "guess", "token": "x"})
        switched = await flow.post(
            http, auth.url + "/settings/switch", {"csrf": flow.csrf_of(asked), **_token_of(asked)}
        )
        after = await flow.get(http, auth.url + "/settings")
    assert asked.status == 200 and question in asked.text and answer in asked.text
    assert f"Vera ({victim})" in asked.text and f"Mallory ({attacker})" in asked.text
    assert f"Vera ({victim})" in unchanged.text and "Mallory" not in unchanged.text
    assert forged.status == 403
    assert switched.status == 303 and switched.location == "/settings"
    assert f"Mallory ({attacker})" in after.text


async def test_a_link_for_the_same_user_opens_without_asking(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """Opening a newer link for the user the browser already has open needs no confirmation."""
    user_id = flow.new_user_id()
    async with flow.browser() as http:
        await flow.open_settings(auth, http, await auth.link(user_id))
        again = await flow.open_settings(auth, http, await auth.link(user_id, "de"))
    assert '<html lang="de">' in again.text


async def test_links_live_for_days_not_weeks(auth: Auth, clean_db: asyncpg.Pool) -> None:
    """A link lives 48 hours unless asked otherwise and never more than 72; a display name must be
    plain text."""
    url = f"{auth.url}/api/v1/users/user-d/link"
    async with aiohttp.ClientSession(headers=auth.api_headers) as api:
        async with api.post(url, json={"locale": "en"}) as r:
            expires_at = datetime.fromisoformat((await r.json())["expires_at"])
        statuses = []
        for bad in (
            {"ttl_seconds": 72 * 3600 + 1},
            {"display_name": ""},
            {"display_name": "x" * 101},
            {"display_name": "Eve\nAdmin"},
            {"display_name": 7},
        ):
            async with api.post(url, json=bad) as r:
                statuses.append(r.status)
    assert timedelta(hours=47) < expires_at - datetime.now(UTC) <= timedelta(hours=48)
    assert statuses == [400] * 5


def _token_of(page: Any) -> dict[str, str]:
    """The link token a switch confirmation carries in its form."""
    match = re.search(r'name="token" value="([^"]+)"', page.text)
    assert match
    return {"token": html.unescape(match.group(1))}
