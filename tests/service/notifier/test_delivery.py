"""Delivery: temporary SMTP failures retried with backoff, permanent ones recorded, auth outages waited
out, every attempt logged, and notification events published for the platform."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest

from devtools.mailcatcher import MailCatcher
from shared.amqp import Broker
from shared.clock import ManualClock
from tests.service.notifier.support import (
    AuthLinksStandIn,
    Notifier,
    PermanentFailure,
    alerted,
    attempts,
    disconnect_known_user,
    jobs,
    nothing_due,
)
from tests.support.helpers import Probe, eventually, internal_url


@pytest.mark.usefixtures("notifier")
async def test_temporary_smtp_reply_is_retried_with_backoff_until_delivered(
    broker: Broker,
    clean_db: asyncpg.Pool,
    mail: MailCatcher,
    clock: ManualClock,
    notifier_events: Probe,
) -> None:
    """Two 451 replies delay the alert by the backoff steps; then it arrives, once, and is announced."""
    mail.fail_next(2, 451)
    await disconnect_known_user(broker, clean_db)

    async def logged(expected: list[tuple[str, str, Any]]) -> None:
        assert await attempts(clean_db) == expected

    await eventually(lambda: logged([("retry", "smtp", 451)]))
    assert (await jobs(clean_db))[0]["due_at"] == clock.now() + timedelta(seconds=60)
    await nothing_due(clean_db, clock)
    clock.advance(timedelta(seconds=60))
    await eventually(lambda: logged([("retry", "smtp", 451)] * 2))
    assert (await jobs(clean_db))[0]["due_at"] == clock.now() + timedelta(seconds=300)
    clock.advance(timedelta(seconds=300))
    await mail.wait_for()
    await eventually(lambda: logged([("retry", "smtp", 451)] * 2 + [("sent", "smtp", 250)]))
    sent = await notifier_events.next_of_type("notification.sent")
    assert (sent["kind"], sent["reason"], sent["user_id"]) == ("alert", "revoked", "u1")
    assert len(mail.messages) == 1 and len(mail.rejected) == 2


@pytest.mark.usefixtures("notifier")
async def test_permanent_smtp_rejection_is_recorded_and_not_retried(
    broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher, permanent_failure: PermanentFailure
) -> None:
    """A 550 reply is recorded as failed, announced as permanent, and never tried again."""
    mail.fail_next(1, 550)
    await disconnect_known_user(broker, clean_db)
    failed = await permanent_failure()
    assert "550" in failed["error"]
    assert await attempts(clean_db) == [("failed", "smtp", 550)]
    assert len(mail.rejected) == 1 and mail.messages == []
    assert [(j["kind"], j["state"]) for j in await jobs(clean_db)] == [("alert", "failed")]


@pytest.mark.usefixtures("notifier")
async def test_email_waits_for_auth_and_never_goes_out_without_its_button(
    broker: Broker,
    clean_db: asyncpg.Pool,
    mail: MailCatcher,
    clock: ManualClock,
    auth_links: AuthLinksStandIn,
) -> None:
    """While auth cannot mint a link the alert waits; once it can, the alert arrives with a fresh link."""
    auth_links.fail_next(1)
    await disconnect_known_user(broker, clean_db, locale="de")
    await eventually(lambda: _logged_link_retry(clean_db))
    assert mail.messages == []
    clock.advance(timedelta(seconds=60))
    alert = await mail.wait_for()
    assert auth_links.requests == [("u1", "de")]
    html = alert.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f'href="{auth_links.url}/settings?user=u1&amp;locale=de&amp;n=1"' in html


async def _logged_link_retry(db: asyncpg.Pool) -> None:
    assert await attempts(db) == [("retry", "link", None)]


async def test_metrics_count_emails_and_open_episodes(
    notifier: Notifier, broker: Broker, clean_db: asyncpg.Pool, mail: MailCatcher
) -> None:
    """Operators see emails sent by kind and the number of open episodes."""
    await alerted(broker, clean_db, mail)

    async def exported() -> None:
        await notifier.worker.refresh_gauge()
        async with aiohttp.ClientSession() as http, http.get(internal_url(notifier.app) + "/metrics") as r:
            text = await r.text()
        assert 'calsync_notifier_emails_total{kind="alert",outcome="sent"} 1.0' in text
        assert "calsync_notifier_episodes_open 1.0" in text

    await eventually(exported)
