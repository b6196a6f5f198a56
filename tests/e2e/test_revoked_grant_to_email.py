"""End to end: a grant revoked at Google reaches the user as one email whose button opens auth's
settings page and reconnect flow; the reconnect ends the episode with a "connected again" email.

auth (real app, Google emulator) and the notifier (real app, mail catcher) run in-process on the
test's database and broker prefix. The tests print how long the chain took.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg

from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from shared.config import CommonConfig, GoogleConfig
from tests.fakes.mailcatcher import MailCatcher
from tests.service.auth.flow import (
    Auth,
    browser,
    connect,
    consent,
    get,
    open_settings,
    running_auth,
    start_connect,
)
from tests.service.auth.refresh_support import FAST
from tests.service.notifier.support import Notifier, given_contacts, running_notifier

EMAIL = "alice@example.com"


@dataclass
class Chain:
    auth: Auth
    notifier: Notifier
    mail: MailCatcher
    clock: ManualClock
    user_id: str


@asynccontextmanager
async def chain(
    common_config: Callable[..., CommonConfig],
    google: GoogleConfig,
    emulator: Any,
    broker: Broker,
    db: asyncpg.Pool,
) -> AsyncIterator[Chain]:
    """auth and the notifier running together; a user connected through the real OAuth round trip."""
    clock = ManualClock(datetime.now(UTC))  # events carry producer times; keep them near the wall clock
    emulator.add_user(EMAIL)
    async with (
        MailCatcher() as mail,
        running_auth(common_config("auth"), google, clock=clock, refresh=replace(FAST, jitter=0.0)) as auth,
        running_notifier(
            common_config("notifier"), smtp_port=mail.port, auth_url=auth.url, clock=clock
        ) as notifier,
        browser() as http,
    ):
        user_id = "user-e2e"
        result = await connect(auth, http, user_id)
        assert result.status == 200, result.text
        await given_contacts(
            broker, db, m.UserContactChanged(user_id=user_id, email="alice@platform.example", name="Alice")
        )
        yield Chain(auth, notifier, mail, clock, user_id)


def plain(msg: EmailMessage) -> str:
    return str(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]


async def test_revoked_grant_reaches_the_user_and_the_link_reconnects(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
    probe: Callable[..., Any],
) -> None:
    """Access removed at Google: the next refresh fails, one honest email arrives, its button leads
    to the settings page and Google's consent, and reconnecting brings a "connected again" email."""
    events = await probe(m.AUTH_EVENTS, "auth.grant.disconnected")
    async with chain(common_config, google_config, emulator, broker, clean_db) as c:
        emulator.revoke_user(EMAIL)
        started = time.perf_counter()
        c.clock.advance(timedelta(days=3))  # the unused grant's keep-alive refresh is due now; it fails
        disconnected = await events.next_json()
        seen_on_bus = time.perf_counter()
        alert = await c.mail.wait_for(timeout=15)
        arrived = c.mail.received[0].received_at
        print(
            f"\nrefresh due -> grant.disconnected on the bus: {(seen_on_bus - started) * 1000:.0f} ms;"
            f" refresh due -> email in the catcher: {(arrived - started) * 1000:.0f} ms"
        )
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
        assert len(c.mail.messages) == 2, [str(x["Subject"]) for x in c.mail.messages]


async def test_security_event_reaches_the_user_before_any_refresh(
    common_config: Callable[..., CommonConfig],
    google_config: GoogleConfig,
    emulator: Any,
    broker: Broker,
    clean_db: asyncpg.Pool,
) -> None:
    """Google's tokens-revoked security event disconnects at once and the user is emailed, without
    waiting for the next refresh."""
    async with chain(common_config, google_config, emulator, broker, clean_db) as c:
        subject = emulator.subject_iss_sub(emulator.users[EMAIL].sub)
        emulator.revoke_user(EMAIL)
        c.clock.set(datetime.now(UTC) + timedelta(seconds=1))  # after the connect event's (wall) time
        started = time.perf_counter()
        assert await emulator.send_security_event(c.auth.url + "/risc", "tokens-revoked", subject) == 202
        alert = await c.mail.wait_for(timeout=15)
        arrived = c.mail.received[0].received_at
        print(f"\nRISC event posted -> email in the catcher: {(arrived - started) * 1000:.0f} ms")
        assert "no longer connected" in str(alert["Subject"])
        assert len(c.mail.messages) == 1
