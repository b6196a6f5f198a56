"""The connection test with auth and sync running on the emulator: the settings page's button and
the API check live that the grant refreshes (at Google's token endpoint), that the chosen calendar
takes a probe write that leaves nothing behind, and that the watch channel delivers its push; each
result in plain words, German and English."""

from __future__ import annotations

import html
import re
from typing import Any

import aiohttp
import asyncpg

from services.sync.config import ChannelConfig
from services.sync.domain.event_ids import is_probe
from tests.service.auth import flow
from tests.service.auth.calendar_support import StartAuthAndSync
from tests.service.auth.flow import Auth, Page
from tests.service.sync.support import calendar_of
from tests.support.helpers import eventually

EMAIL = "alice@example.com"
WATCHED = ChannelConfig(interval=0.1, cache_seconds=0.1, test_push_wait=15.0)
STEP = re.compile(
    r'<li class="step step-(\w+)" id="test-(\w+)" data-status="\w+">\s*<p><span class="verdict">([^<]*)</span></p>\s*<p>([^<]*)</p>'
)


def results(page: Page) -> dict[str, tuple[str, str, str]]:
    """The result section: step -> (status, verdict, sentence)."""
    found = {
        name: (status, html.unescape(v), html.unescape(t)) for status, name, v, t in STEP.findall(page.text)
    }
    assert found, "no test results on the page"
    return found


async def api_test(auth: Auth, user_id: str, locale: str = "en") -> dict[str, Any]:
    url = f"{auth.url}/api/v1/users/{user_id}/connection/test"
    async with (
        aiohttp.ClientSession(headers=auth.api_headers) as http,
        http.post(url, json={"locale": locale}) as r,
    ):
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def live_channel(db: asyncpg.Pool, user_id: str, calendar_id: str | None = None) -> None:
    """sync has a live watch channel for the user (on ``calendar_id`` when given)."""

    async def check() -> None:
        found = await db.fetchval(
            "SELECT count(*) FROM sync.watch_channels WHERE user_id = $1 AND state = 'live'"
            " AND ($2::text IS NULL OR calendar_id = $2)",
            user_id,
            calendar_id,
        )
        assert found

    await eventually(check)


def probes(emulator: Any, calendar_id: str) -> list[dict[str, Any]]:
    return [e for e in emulator.events(calendar_id) if is_probe(str(e["id"]))]


async def test_a_working_connection_passes_all_three_steps_on_the_page_and_in_the_api(
    start_auth_and_sync: StartAuthAndSync, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """The button (its form needs the session's CSRF token) refreshes the grant at Google, writes and
    removes a probe, sees its push, and says so in plain English; the API answers the same in German.
    No probe is left in the calendar."""
    emulator.add_user(EMAIL)
    user_id = flow.new_user_id()
    async with start_auth_and_sync(channels=WATCHED) as (auth, _), flow.browser() as http:
        await flow.connect(auth, http, user_id)
        calendar_id = await calendar_of(clean_db, user_id)
        await live_channel(clean_db, user_id)
        page = await flow.open_settings(auth, http, await auth.link(user_id))
        assert 'id="connection-test-run"' in page.text and "Test the connection" in page.text
        forged = await flow.post(http, auth.url + "/settings/connection-test", {"csrf": "forged"})
        assert forged.status == 403
        refreshes = emulator.token_calls
        tested = await flow.post(http, auth.url + "/settings/connection-test", {"csrf": flow.csrf_of(page)})
        assert tested.status == 200 and emulator.token_calls > refreshes
        assert "Everything works." in tested.text
        assert results(tested) == {
            "grant": ("ok", "1. Access to Google: Passed", "Google confirmed our access just now."),
            "calendar": (
                "ok",
                "2. Writing to your calendar: Passed",
                f"A test entry was saved in “{calendar_id}” and removed again at once.",
            ),
            "channel": (
                "ok",
                "3. Notifications from Google: Passed",
                "Google told us about the test entry at once: changes you make in Google reach us right away.",
            ),
        }
        german = await api_test(auth, user_id, "de")
    assert german["ok"] is True and german["calendar_id"] == calendar_id
    assert [(s["step"], s["status"], s["code"]) for s in german["steps"]] == [
        ("grant", "ok", "refreshed"),
        ("calendar", "ok", "written_and_removed"),
        ("channel", "ok", "push_received"),
    ]
    assert german["steps"][0]["message"] == "Google hat unseren Zugriff gerade bestätigt."
    written = probes(emulator, calendar_id)
    assert len(written) == 2 and all(e["status"] == "cancelled" for e in written), written


async def test_a_dead_grant_fails_step_one_with_its_reason_and_skips_the_others(
    start_auth_and_sync: StartAuthAndSync, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """The user removed our access in Google: the forced refresh finds out, the German page says why
    and that steps 2 and 3 could not be checked, and the state above now reads disconnected."""
    emulator.add_user(EMAIL)
    user_id = flow.new_user_id()
    async with start_auth_and_sync(channels=WATCHED) as (auth, _), flow.browser() as http:
        await flow.connect(auth, http, user_id, locale="de")
        calendar_id = await calendar_of(clean_db, user_id)
        emulator.revoke_user(EMAIL)
        page = await flow.open_settings(auth, http, await auth.link(user_id, "de"))
        assert "Verbindung testen" in page.text
        tested = await flow.post(http, auth.url + "/settings/connection-test", {"csrf": flow.csrf_of(page)})
        assert tested.status == 200
        assert "Nicht alles funktioniert. Die Einzelheiten stehen unten." in tested.text
        steps = results(tested)
        assert steps["grant"][:2] == ("failed", "1. Zugriff auf Google: Fehlgeschlagen")
        assert steps["grant"][2].startswith(
            "Google hat den Zugriff beendet, zum Beispiel nach einer Passwort"
        )
        assert steps["calendar"] == (
            "skipped",
            "2. In den Kalender schreiben: Nicht geprüft",
            "Nicht geprüft: Ohne Zugriff auf Google kann nichts eingetragen werden.",
        )
        assert steps["channel"][:2] == ("skipped", "3. Benachrichtigungen von Google: Nicht geprüft")
        assert 'data-state="disconnected"' in tested.text
        english = await api_test(auth, user_id)
    assert english["ok"] is False
    assert [(s["step"], s["status"], s["code"]) for s in english["steps"]] == [
        ("grant", "failed", "revoked"),
        ("calendar", "skipped", "grant_failed"),
        ("channel", "skipped", "grant_failed"),
    ]
    assert english["steps"][0]["message"].startswith("Google ended our access")
    assert probes(emulator, calendar_id) == []


async def test_the_api_needs_the_service_token_and_a_known_locale(
    start_auth_and_sync: StartAuthAndSync, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """No token: 401; a locale other than de or en: 400; a user never connected: no grant, in words."""
    async with start_auth_and_sync() as (auth, _), aiohttp.ClientSession() as http:
        url = f"{auth.url}/api/v1/users/nobody/connection/test"
        async with http.post(url) as r:
            assert r.status == 401
        async with http.post(url, json={"locale": "fr"}, headers=auth.api_headers) as r:
            assert r.status == 400
        nobody = await api_test(auth, "nobody")
    assert nobody["steps"][0]["code"] == "no_grant"
    assert (
        nobody["steps"][0]["message"]
        == "There is no connection to Google. Please connect your Google Calendar."
    )


async def test_a_calendar_that_became_read_only_fails_step_two_in_plain_words(
    start_auth_and_sync: StartAuthAndSync, emulator: Any, clean_db: asyncpg.Pool
) -> None:
    """The shared calendar the user chose became read-only for them: access passes, writing fails
    and says to choose another calendar, notifications are not checked."""
    team = "team@group.calendar.google.com"
    emulator.add_user(EMAIL)
    emulator.add_calendar(EMAIL, team, "Team", access_role="writer")
    user_id = flow.new_user_id()
    async with start_auth_and_sync(channels=WATCHED) as (auth, _), flow.browser() as http:
        await flow.connect(auth, http, user_id)
        await calendar_of(clean_db, user_id)
        page = await flow.open_settings(auth, http, await auth.link(user_id))
        chosen = await flow.post(
            http, auth.url + "/settings/calendar", {"csrf": flow.csrf_of(page), "calendar_id": team}
        )
        assert chosen.location == "/settings?calendar=saved#calendar"
        await live_channel(clean_db, user_id, team)
        emulator.set_access_role(EMAIL, team, "reader")
        report = await api_test(auth, user_id)
    assert [(s["step"], s["status"], s["code"]) for s in report["steps"]] == [
        ("grant", "ok", "refreshed"),
        ("calendar", "failed", "not_writable"),
        ("channel", "skipped", "no_probe"),
    ]
    assert report["steps"][1]["message"] == (
        f"You may not add events to the chosen calendar “{team}”. Please choose another calendar above."
    )
    assert probes(emulator, team) == []
