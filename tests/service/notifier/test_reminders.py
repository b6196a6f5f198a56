"""Reminders on the cadence (controlled clock), stopped by the link in the email or by reconnecting."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import aiohttp
import asyncpg

from devtools.mailcatcher import MailCatcher
from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from tests.service.notifier.support import Notifier, NotifierWorld, alerted, jobs, nothing_due
from tests.support.helpers import eventually


def plain(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def cadence_started(
    broker: Broker, db: asyncpg.Pool, mail: MailCatcher, *, locale: str = "en"
) -> EmailMessage:
    """The alert (see ``alerted``), once its first reminder is scheduled: the cadence has started."""
    alert = await alerted(broker, db, mail, locale=locale)
    await eventually(lambda: _pending_reminder(db))
    return alert


async def reminder_count(mail: MailCatcher) -> int:
    return sum(1 for msg in mail.messages if str(msg["Subject"]).startswith("Reminder:"))


async def test_reminders_follow_the_cadence_then_stop(world: NotifierWorld) -> None:
    """Alert now, reminders on day 1, 3 and 7 after it, and nothing after that: four emails at most."""
    alert = await cadence_started(world.broker, world.db, world.mail)
    assert "we will remind you at most 3 more times" in plain(alert)

    start = world.clock.now()
    for day, expected in ((1, 1), (3, 2), (7, 3)):
        world.clock.set(start + timedelta(days=day))
        await eventually(lambda n=expected: _has_reminders(world.mail, n))  # type: ignore[misc]

    world.clock.advance(timedelta(days=30))
    await nothing_due(world.db, world.clock)
    assert len(world.mail.messages) == 4
    last = world.mail.messages[-1]
    assert "we will remind you at most" not in plain(last)
    sent = [(j["kind"], j["sequence"], j["state"]) for j in await jobs(world.db)]
    assert sent == [
        ("alert", 0, "sent"),
        ("reminder", 1, "sent"),
        ("reminder", 2, "sent"),
        ("reminder", 3, "sent"),
    ]


async def _has_reminders(mail: MailCatcher, count: int) -> None:
    assert await reminder_count(mail) == count


async def test_nothing_is_sent_before_a_reminder_is_due(world: NotifierWorld) -> None:
    """One second short of a day after the alert, no reminder is due yet."""
    await cadence_started(world.broker, world.db, world.mail)
    world.clock.advance(timedelta(days=1) - timedelta(seconds=1))
    await nothing_due(world.db, world.clock)
    world.clock.advance(timedelta(seconds=1))
    await eventually(lambda: _has_reminders(world.mail, 1))


async def _pending_reminder(db: asyncpg.Pool) -> None:
    assert [(j["kind"], j["state"]) for j in await jobs(db)][-1] == ("reminder", "pending")


async def test_stop_link_in_the_email_stops_further_reminders(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher, clock: ManualClock
) -> None:
    """Opening the stop link asks first; confirming it means no further reminders arrive."""
    await cadence_started(broker, clean_db, mail, locale="de")
    clock.advance(timedelta(days=1))
    reminder = await mail.wait_for(lambda msg: str(msg["Subject"]).startswith("Erinnerung:"))
    stop_url = re.search(r"Keine Erinnerungen mehr zu diesem Problem: (\S+)", plain(reminder)).group(1)  # type: ignore[union-attr]
    assert stop_url.startswith(notifier.url + "/reminders/stop?")

    async with aiohttp.ClientSession() as http:
        async with http.get(stop_url) as page:  # a link scanner or the user opening it: nothing changes yet
            assert page.status == 200
            assert "Erinnerungen beenden" in await page.text()
        await eventually(lambda: _pending_reminder(clean_db))
        async with http.post(stop_url) as done:
            assert done.status == 200
            assert "Keine weiteren Erinnerungen" in await done.text()

    clock.advance(timedelta(days=10))
    await nothing_due(clean_db, clock)
    assert await reminder_count(mail) == 0 and len(mail.messages) == 2
    assert [(j["kind"], j["state"]) for j in await jobs(clean_db)][-1] == ("reminder", "cancelled")


async def test_list_unsubscribe_one_click_stops_reminders(world: NotifierWorld) -> None:
    """The mail client's one-click unsubscribe (RFC 8058 POST) stops reminders too."""
    alert = await alerted(world.broker, world.db, world.mail)
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    target = str(alert["List-Unsubscribe"]).strip("<>")
    async with aiohttp.ClientSession() as http:
        async with http.post(target, data={"List-Unsubscribe": "One-Click"}) as r:
            assert r.status == 200
        async with http.post(target.replace("sig=", "sig=x")) as forged:
            assert forged.status == 400
    world.clock.advance(timedelta(days=10))
    await nothing_due(world.db, world.clock)
    assert len(world.mail.messages) == 1


async def test_reconnecting_cancels_the_pending_reminders(world: NotifierWorld) -> None:
    """A reconnect after the first reminder means the remaining reminders never arrive."""
    await cadence_started(world.broker, world.db, world.mail)
    world.clock.advance(timedelta(days=1))
    await eventually(lambda: _has_reminders(world.mail, 1))
    await world.broker.publish(
        m.GrantConnected(user_id="u1", grant_id="g-u1", cause="reconnected", google_sub="s")
    )
    await world.mail.wait_for(lambda msg: "connected again" in str(msg["Subject"]))

    async def cancelled() -> None:
        assert ("reminder", 2, "cancelled") in [
            (j["kind"], j["sequence"], j["state"]) for j in await jobs(world.db)
        ]

    await eventually(cancelled)
    world.clock.advance(timedelta(days=10))
    await nothing_due(world.db, world.clock)
    assert await reminder_count(world.mail) == 1 and len(world.mail.messages) == 3
