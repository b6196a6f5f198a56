"""End to end: a grant revoked at Google reaches the user as one email whose button opens auth's
settings page and reconnect flow; the reconnect ends the episode with a "connected again" email.

auth (real app, Google emulator) and the notifier (real app, mail catcher) run in-process on the
test's database and broker prefix. The tests measure how long the user waits: from the moment the
emulator answered the refresh with ``invalid_grant``, and from the moment Google's security event was
posted, to the email in the catcher. Both figures appear in the test run's summary (conftest.py) and
must stay under ``MAX_SECONDS``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from shared import messages as m
from tests.e2e.support import EMAIL, StartChain, notifier_caught_up, plain
from tests.service.auth.flow import (
    browser,
    consent,
    get,
    open_settings,
    start_connect,
)

MAX_SECONDS = 5.0  # generous: the chain takes well under a second; a regression to polling fails


def failed_refresh_answered_at(emulator: Any) -> float:
    """When the emulator answered the grant's refresh with ``invalid_grant`` (``time.perf_counter()``)."""
    failed = [
        r
        for r in emulator.requests
        if r.path == "/token" and r.form.get("grant_type") == "refresh_token" and r.error == "invalid_grant"
    ]
    assert len(failed) == 1 and failed[0].answered_at is not None, failed
    answered_at: float = failed[0].answered_at
    return answered_at


async def test_revoked_grant_reaches_the_user_and_the_link_reconnects(
    start_chain: StartChain,
    emulator: Any,
    clean_db: asyncpg.Pool,
    probe: Callable[..., Any],
    record_property: Callable[[str, object], None],
) -> None:
    """Access removed at Google: the next refresh fails, one honest email arrives, its button leads
    to the settings page and Google's consent, and reconnecting brings a "connected again" email."""
    events = await probe(m.AUTH_EVENTS, "auth.grant.disconnected")
    async with start_chain() as c:
        emulator.revoke_user(EMAIL)
        c.clock.advance(timedelta(hours=6))  # the unused grant's longest silence ends; its refresh fails
        disconnected = await events.next_json()
        alert = await c.mail.wait_for(timeout=15)
        waited = c.mail.received[0].received_at - failed_refresh_answered_at(emulator)
        record_property(
            "latency: refresh answered invalid_grant -> email in the catcher (ms)", round(waited * 1000)
        )
        assert 0 < waited < MAX_SECONDS
        assert disconnected["reason"] == "revoked" and disconnected["detected_by"] == "refresh"
        assert c.mail.received[0].rcpt_tos == ["alice@platform.example"]
        assert "after a password change or when the access was removed" in plain(alert)

        link = re.search(r"Reconnect Google Calendar:\s+(\S+)", plain(alert)).group(1)  # type: ignore[union-attr]
        async with browser() as http:
            settings = await open_settings(c.auth, http, link)
            assert "Reconnect" in settings.text
            consent_url = await start_connect(c.auth, http, settings)
            assert consent_url.startswith(emulator.auth_url)
            result = await get(http, await consent(http, consent_url))
            assert result.status == 200, result.text
        good_news = await c.mail.wait_for(lambda msg: "connected again" in str(msg["Subject"]), timeout=15)
        assert "being copied to your calendar now" in plain(good_news)
        await notifier_caught_up(c, clean_db)
        assert len(c.mail.messages) == 2, [str(x["Subject"]) for x in c.mail.messages]


async def test_security_event_reaches_the_user_before_any_refresh(
    start_chain: StartChain,
    emulator: Any,
    clean_db: asyncpg.Pool,
    record_property: Callable[[str, object], None],
) -> None:
    """Google's tokens-revoked security event disconnects at once and the user is emailed, without
    waiting for the next refresh."""
    async with start_chain() as c:
        subject = emulator.subject_iss_sub(emulator.user(EMAIL).sub)
        emulator.revoke_user(EMAIL)
        c.clock.set(datetime.now(UTC) + timedelta(seconds=1))  # after the connect event's (wall) time
        posted = time.perf_counter()
        assert await emulator.send_security_event(c.auth.url + "/risc", "tokens-revoked", subject) == 202
        alert = await c.mail.wait_for(timeout=15)
        waited = c.mail.received[0].received_at - posted
        record_property("latency: RISC event posted -> email in the catcher (ms)", round(waited * 1000))
        assert waited < MAX_SECONDS
        assert "no longer connected" in str(alert["Subject"])
        await notifier_caught_up(c, clean_db)
        assert len(c.mail.messages) == 1
