"""Episodes end to end through the running notifier: one alert each, ended by the right events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from devtools.mailcatcher import MailCatcher
from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from shared.web import REGISTRY
from tests.service.notifier.support import (
    Notifier,
    NotifierWorld,
    alerted,
    all_consumed,
    contact,
    disconnected,
    finished,
    given_contacts,
    jobs,
    nothing_due,
    processed,
)
from tests.support.helpers import eventually


async def test_one_alert_per_episode_under_redelivery(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher
) -> None:
    """A redelivered report, a second detection and a suspension of the same grant send one email."""
    await given_contacts(broker, clean_db, contact("u1"))
    first = disconnected("u1")
    await broker.publish(first)
    await broker.publish(first)  # the same message again
    await broker.publish(disconnected("u1", detected_by="security_event"))
    await broker.publish(m.GrantSuspended(user_id="u1", grant_id="g-u1", since=datetime.now(UTC)))
    await all_consumed(notifier, count=1 + 4)  # the contact, then four reports (one of them twice)

    async def settled() -> None:
        assert await processed(clean_db, "notifier.auth_events") == 3
        assert [(j["kind"], j["state"]) for j in await jobs(clean_db)] == [
            ("alert", "sent"),
            ("reminder", "pending"),
        ]

    await eventually(settled)
    assert len(mail.messages) == 1
    assert mail.received[0].rcpt_tos == ["u1@platform.example"]


async def test_one_alert_per_episode_with_two_notifier_instances(
    notifier: Notifier,
    start_notifier: Callable[..., Any],
    broker: Broker,
    clean_db: asyncpg.Pool,
    mail: MailCatcher,
) -> None:
    """Two running instances share the reports and still send each user exactly one alert."""
    users = [f"u{n}" for n in range(6)]
    async with start_notifier() as second:
        await given_contacts(broker, clean_db, *(contact(u) for u in users))
        sent = []
        for round_ in range(4):
            for user in users:
                report = disconnected(user, detected_by="refresh" if round_ % 2 else "security_event")
                await broker.publish(report)
                await broker.publish(report)
                sent.append(report)

        # Every delivery, duplicates included, is acked before anything is counted.
        await all_consumed(notifier, second, count=2 * len(sent), queue="notifier.auth_events")

        async def settled() -> None:
            assert await processed(clean_db, "notifier.auth_events") == len(sent)
            states = [(j["kind"], j["state"]) for j in await jobs(clean_db) if j["kind"] == "alert"]
            assert states == [("alert", "sent")] * len(users)

        await eventually(settled, timeout=20)
        instances = (notifier, second)
        consumed = [finished(n, queue="notifier.auth_events") for n in instances]
        alerts = [_counted(n, "calsync_notifier_emails", kind="alert", outcome="sent") for n in instances]
    assert all(c > 0 for c in consumed) and sum(consumed) == 2 * len(sent), consumed
    assert sum(alerts) == len(users), alerts
    assert sorted(r.rcpt_tos[0] for r in mail.received) == sorted(f"{u}@platform.example" for u in users)


def _counted(instance: Notifier, metric: str, **labels: str) -> float:
    """The sum of a counter's samples with these labels in one instance's own metrics registry."""
    return sum(
        sample.value
        for family in instance.app[REGISTRY].collect()
        if family.name == metric
        for sample in family.samples
        if sample.name == metric + "_total" and labels.items() <= sample.labels.items()
    )


async def test_reconnect_ends_the_episode_with_good_news_and_no_more_reminders(world: NotifierWorld) -> None:
    """After reconnecting the user hears "connected again" once, and no reminder follows."""
    await alerted(world.broker, world.db, world.mail)
    await world.broker.publish(
        m.GrantConnected(user_id="u1", grant_id="g-u1", cause="reconnected", google_sub="sub-1")
    )
    good_news = await world.mail.wait_for(lambda msg: "connected again" in msg["Subject"])
    body = good_news.get_body(("plain",))
    assert body is not None and "being copied to your calendar now" in body.get_content()

    async def recorded() -> None:
        kinds = sorted((j["kind"], j["state"]) for j in await jobs(world.db))
        assert kinds == [("alert", "sent"), ("reconnected", "sent"), ("reminder", "cancelled")]

    await eventually(recorded)
    world.clock.advance(timedelta(days=8))
    await nothing_due(world.db, world.clock)
    assert len(world.mail.messages) == 2


async def test_reconnect_confirmation_can_be_switched_off(
    start_notifier: Callable[..., Any], broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher
) -> None:
    """With RECONNECTED_EMAIL off, a reconnect ends the episode silently."""
    async with start_notifier(reconnected_email=False):
        await alerted(broker, clean_db, mail)
        await broker.publish(
            m.GrantConnected(user_id="u1", grant_id="g-u1", cause="recovered", google_sub="s")
        )

        async def ended() -> None:
            ended_at = await clean_db.fetchval("SELECT ended_at FROM notifier.episodes")
            assert ended_at is not None

        await eventually(ended)
    assert [j["kind"] for j in await jobs(clean_db)] == ["alert", "reminder"]
    assert len(mail.messages) == 1


async def test_deleting_the_connection_on_purpose_sends_nothing(world: NotifierWorld) -> None:
    """A user who deleted the connection gets no confirmation and no reminders."""
    await alerted(world.broker, world.db, world.mail)
    await world.broker.publish(m.GrantDeleted(user_id="u1", grant_id="g-u1", cause="user_request"))

    await eventually(lambda: _kinds(world.db, [("alert", "sent"), ("reminder", "cancelled")]))
    world.clock.advance(timedelta(days=8))
    await nothing_due(world.db, world.clock)
    assert len(world.mail.messages) == 1


async def test_a_report_older_than_the_reconnect_is_ignored(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher
) -> None:
    """A late, stale disconnect report (it began before the reconnect) opens no episode."""
    await given_contacts(broker, clean_db, contact("u1"))
    began = datetime.now(UTC) - timedelta(minutes=5)
    await broker.publish(m.GrantConnected(user_id="u1", grant_id="g-u1", cause="reconnected", google_sub="s"))
    await all_consumed(notifier, count=2)  # the reconnect is recorded before the late report arrives
    await broker.publish(disconnected("u1", since=began))
    await all_consumed(notifier, count=3)
    assert await clean_db.fetchval("SELECT count(*) FROM notifier.episodes") == 0
    assert await jobs(clean_db) == [] and mail.messages == []


async def test_deleted_user_is_forgotten_and_pending_emails_cancelled(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher, clock: ManualClock
) -> None:
    """After the user is deleted nothing about them is kept and no reminder or late alert goes out."""
    await alerted(broker, clean_db, mail)
    await broker.publish(m.UserDeleted(user_id="u1"))

    async def forgotten() -> None:
        assert await clean_db.fetchval("SELECT count(*) FROM notifier.contacts") == 0
        assert await jobs(clean_db) == []

    await eventually(forgotten)
    await broker.publish(disconnected("u1", grant_id="g-other"))  # late report for the deleted user
    await broker.publish(contact("u1"))  # and a stale contact event
    await all_consumed(notifier, count=5)  # contact, report, deletion, late report, stale contact
    clock.advance(timedelta(days=8))
    await nothing_due(clean_db, clock)
    assert await clean_db.fetchval("SELECT count(*) FROM notifier.episodes") == 0
    assert await clean_db.fetchval("SELECT count(*) FROM notifier.contacts") == 0
    assert len(mail.messages) == 1


async def test_choosing_a_new_calendar_ends_the_calendar_problem(world: NotifierWorld) -> None:
    """A user told their calendar is gone hears nothing more once they choose another calendar."""
    await given_contacts(world.broker, world.db, contact("u1"))
    await world.broker.publish(
        m.CalendarProblem(
            user_id="u1", problem="calendar_unavailable", calendar_id="c1", since=world.clock.now()
        )
    )
    alert = await world.mail.wait_for()
    assert "please choose a calendar" in str(alert["Subject"])
    await eventually(lambda: _kinds(world.db, [("alert", "sent"), ("reminder", "pending")]))

    await world.broker.publish(m.CalendarSelected(user_id="u1", calendar_id="c2"))
    await eventually(lambda: _kinds(world.db, [("alert", "sent"), ("reminder", "cancelled")]))
    episode = await world.db.fetchrow("SELECT subject, end_cause FROM notifier.episodes")
    assert (episode["subject"], episode["end_cause"]) == ("calendar:u1", "calendar_selected")
    start = world.clock.now()
    for day in (1, 3, 7, 8):  # each reminder day, then past the last one
        world.clock.set(start + timedelta(days=day))
        await nothing_due(world.db, world.clock)
    assert len(world.mail.messages) == 1
    await _kinds(world.db, [("alert", "sent"), ("reminder", "cancelled")])


async def _kinds(db: asyncpg.Pool, expected: list[tuple[str, str]]) -> None:
    assert [(j["kind"], j["state"]) for j in await jobs(db)] == expected
