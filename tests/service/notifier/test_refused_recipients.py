"""Recipients no email can ever reach (an address without @, CR/LF in an address or display name)
fail on the first attempt, without an SMTP connection, counted by reason and announced as permanent."""

from __future__ import annotations

import asyncpg
import pytest

from devtools.mailcatcher import MailCatcher
from shared import messages as m
from shared.amqp import Broker
from shared.web import REGISTRY
from tests.service.notifier.support import (
    Notifier,
    PermanentFailure,
    all_consumed,
    attempts,
    contact,
    disconnected,
    given_contacts,
    jobs,
)

REFUSED = [
    pytest.param([contact("u1", name="Anna\r\nBcc: all@evil.example")], None, "invalid_name", id="name-crlf"),
    pytest.param([], "u1.gmail.example", "invalid_address", id="address-without-at"),
    pytest.param([], "u1@gmail.example\r\nBcc: all@evil.example", "invalid_address", id="address-crlf"),
]


@pytest.mark.parametrize(("contacts", "google_email", "reason"), REFUSED)
async def test_unusable_recipient_fails_at_once_without_smtp(
    notifier: Notifier,
    broker: Broker,
    clean_db: asyncpg.Pool,
    mail: MailCatcher,
    permanent_failure: PermanentFailure,
    contacts: list[m.UserContactChanged],
    google_email: str | None,
    reason: str,
) -> None:
    """The alert is failed on its first attempt with the reason, never retried, and no SMTP connection is made."""
    if contacts:
        await given_contacts(broker, clean_db, *contacts)
    await broker.publish(disconnected("u1", google_email=google_email))
    failed = await permanent_failure()
    assert failed["error"].startswith("recipient: ") and "evil" not in failed["error"]
    await all_consumed(notifier, count=len(contacts) + 1)
    assert await attempts(clean_db) == [("failed", "recipient", None)]
    assert [(j["kind"], j["state"], j["attempts"]) for j in await jobs(clean_db)] == [("alert", "failed", 1)]
    assert mail.connections == 0
    counted = notifier.app[REGISTRY].get_sample_value(
        "calsync_notifier_emails_failed_total", {"reason": reason}
    )
    assert counted == 1.0
