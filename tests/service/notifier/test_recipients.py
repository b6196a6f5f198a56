"""Who is told what: the right language and reason for every reason, the Google mailbox only as a
fallback and never for a hijacked account, operators once per incident, a heads-up before expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

import asyncpg
import pytest

from devtools.mailcatcher import MailCatcher
from shared import messages as m
from shared.amqp import Broker
from shared.clock import ManualClock
from tests.service.notifier.support import (
    Notifier,
    PermanentFailure,
    all_consumed,
    contact,
    disconnected,
    given_contacts,
    jobs,
    nothing_due,
)
from tests.support.helpers import eventually

# (subject, a phrase of the honest explanation) per reason and language.
EXPECTED = {
    ("revoked", "en"): ("no longer connected", "after a password change or when the access was removed"),
    ("revoked", "de"): ("nicht mehr verbunden", "nach einer Änderung Ihres Google-Passworts"),
    ("account_deleted", "en"): ("the Google account was deleted or disabled", "has been deleted or disabled"),
    ("account_deleted", "de"): (
        "Das Google-Konto wurde gelöscht oder deaktiviert",
        "gelöscht oder deaktiviert wurde",
    ),
    ("admin_policy", "en"): ("blocked by an administrator's policy", "ask your administrator"),
    ("admin_policy", "de"): ("Richtlinie eines Administrators", "Bitten Sie Ihren Administrator"),
    ("security_block", "en"): ("Google blocked the account", "because of suspicious activity"),
    ("security_block", "de"): ("Google hat das Konto gesperrt", "wegen verdächtiger Aktivitäten gesperrt"),
    ("access_expired", "en"): ("time-limited access has run out", "for a limited time only"),
    ("access_expired", "de"): ("zeitlich begrenzte Zugriff ist abgelaufen", "nur für eine begrenzte Zeit"),
    ("calendar_unavailable", "en"): ("please choose a calendar", "may no longer write to it"),
    ("calendar_unavailable", "de"): ("Bitte wählen Sie einen Kalender", "darf nicht mehr in ihn schreiben"),
    ("needs_consent", "en"): ("needs your permission again", "tick the box for calendar access"),
    ("needs_consent", "de"): ("braucht erneut Ihre Erlaubnis", "den Haken beim Zugriff auf den Kalender"),
}
KEPT = {"en": "Your appointments are kept", "de": "Ihre Termine gehen nicht verloren"}


def plain(msg: EmailMessage) -> str:
    return str(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def addressed_to(address: str) -> Callable[[EmailMessage], bool]:
    return lambda msg: any(a.addr_spec == address for a in msg["To"].addresses)


def report(user_id: str, reason: str) -> m.Message:
    if reason in ("calendar_unavailable", "needs_consent"):
        return m.CalendarProblem(user_id=user_id, problem=reason, since=datetime.now(UTC))  # type: ignore[arg-type]
    if reason == "security_block":
        return m.GrantSuspended(user_id=user_id, grant_id=f"g-{user_id}", since=datetime.now(UTC))
    return disconnected(user_id, reason)


async def test_every_reason_in_the_right_language(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher
) -> None:
    """Each user gets the subject and explanation of their reason, in their language, with one button."""
    users = {(reason, lang): f"{reason}-{lang}" for reason, lang in EXPECTED}
    await given_contacts(
        broker,
        clean_db,
        *(contact(u, locale="de-DE" if lang == "de" else "en-GB") for (_, lang), u in users.items()),
    )
    for (reason, _), user in users.items():
        await broker.publish(report(user, reason))
    for (reason, lang), user in users.items():
        msg = await mail.wait_for(addressed_to(f"{user}@platform.example"))
        subject, phrase = EXPECTED[(reason, lang)]
        assert subject in str(msg["Subject"]), (reason, lang)
        assert phrase in plain(msg) and KEPT[lang] in plain(msg), (reason, lang)
        assert msg["Content-Language"] == lang
        html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert html.count("/settings?user=") == 1  # one button, a link minted by auth for this email
    await all_consumed(notifier, count=2 * len(EXPECTED))  # every contact and every report
    assert len(mail.messages) == len(EXPECTED)


@pytest.mark.usefixtures("notifier", "clean_db")
async def test_google_mailbox_is_the_fallback_when_no_platform_address_is_known(
    broker: Broker, mail: MailCatcher
) -> None:
    """Without a platform address the alert goes to the Google account's email."""
    await broker.publish(disconnected("u1", google_email="anna@gmail.example"))
    msg = await mail.wait_for()
    assert mail.received[0].rcpt_tos == ["anna@gmail.example"]
    assert "no longer connected" in str(msg["Subject"])


async def test_no_email_to_the_google_mailbox_of_a_hijacked_account(
    notifier: Notifier, broker: Broker, mail: MailCatcher, permanent_failure: PermanentFailure
) -> None:
    """Once Google reports a hijack, its mailbox is never written to, not even for a known address."""
    since = datetime.now(UTC)
    # Google's hijacking report is recorded first; then a report of the failed refresh (with the
    # Google address) arrives for the same grant.
    await broker.publish(
        m.GrantSuspended(user_id="u1", grant_id="g-u1", hijacking=True, since=since, google_email=None)
    )
    await all_consumed(notifier, count=1)
    await broker.publish(disconnected("u1", google_email="victim@gmail.example", since=since))
    failed = await permanent_failure()
    await all_consumed(notifier, count=2)
    assert "no address" in failed["error"]
    assert mail.messages == [] and mail.rejected == []


async def test_hijacked_account_user_is_told_at_the_platform_address(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher, clock: ManualClock
) -> None:
    """A hijacked account's user still hears about it, at the address the platform knows."""
    await given_contacts(broker, clean_db, contact("u1"))
    await broker.publish(disconnected("u1", google_email="victim@gmail.example"))
    await broker.publish(
        m.GrantSuspended(user_id="u1", grant_id="g-u1", hijacking=True, since=datetime.now(UTC))
    )
    await mail.wait_for()
    await all_consumed(notifier, count=3)
    await nothing_due(clean_db, clock)
    assert [r.rcpt_tos for r in mail.received] == [["u1@platform.example"]]


async def test_operator_is_alerted_once_per_incident_and_users_never(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher
) -> None:
    """An app-wide failure reaches the operator address once, however often it is reported."""
    alert = m.OperatorAlert(incident_id="inc-7", kind="app_config", error="invalid_client")
    await broker.publish(alert)
    await broker.publish(alert)
    await broker.publish(m.OperatorAlert(incident_id="inc-7", kind="app_config", error="invalid_client"))
    await broker.publish(m.OperatorAlert(incident_id="inc-8", kind="circuit_open", detail="40% in 10 min"))
    await broker.publish(m.OperatorAlert(incident_id="inc-8", kind="circuit_closed"))
    await all_consumed(notifier, count=5)

    async def settled() -> None:
        assert sorted((j["reason"], j["state"]) for j in await jobs(clean_db)) == [
            ("app_config", "sent"),
            ("circuit_open", "sent"),
        ]

    await eventually(settled)
    assert [r.rcpt_tos for r in mail.received] == [["ops@pilotly.example"]] * 2
    subjects = sorted(str(msg["Subject"]) for msg in mail.messages)
    assert subjects == [
        "[Pilotly] Operator alert: Google rejects our OAuth client",
        "[Pilotly] Operator alert: disconnects paused by the circuit breaker",
    ]


@pytest.mark.usefixtures("notifier")
async def test_heads_up_before_time_limited_access_ends(
    broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher
) -> None:
    """A few days before time-limited access ends the user gets one heads-up with a reconnect button."""
    await given_contacts(broker, clean_db, contact("u1", locale="de"))
    expiring = m.GrantExpiring(
        user_id="u1", grant_id="g-u1", expires_at=datetime(2026, 1, 9, 9, 0, tzinfo=UTC)
    )
    await broker.publish(expiring)
    await broker.publish(expiring.model_copy(update={"message_id": "another-id"}))
    msg = await mail.wait_for()
    assert str(msg["Subject"]) == "Ihr Zugriff auf Google Kalender endet am 9. Januar 2026"
    assert "Jetzt neu verbinden" in plain(msg)
    await eventually(lambda: _one_expiring_job(clean_db))
    assert len(mail.messages) == 1


async def _one_expiring_job(db: asyncpg.Pool) -> None:
    assert [(j["kind"], j["state"]) for j in await jobs(db)] == [("expiring", "sent")]
    assert await db.fetchval("SELECT count(*) FROM notifier.processed_messages") == 3
