"""The SMTP adapter against a real SMTP server (the mail catcher): headers, parts, reply classes."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest_asyncio

from devtools.mailcatcher import MailCatcher, web_app
from services.notifier.adapters.rendering import RenderedEmail
from services.notifier.adapters.smtp import SmtpSender, build_message, message_id_for
from services.notifier.config import SmtpConfig
from tests.support.helpers import serve

RENDERED = RenderedEmail(subject="Ihr Google Kalender ist getrennt", text="Grüße\n", html="<p>Grüße</p>")
FROM = "Pilotly <noreply@pilotly.example>"


@pytest_asyncio.fixture
async def mail() -> AsyncIterator[MailCatcher]:
    async with MailCatcher() as catcher:
        yield catcher


def message(to: str = "anna@example.org") -> object:
    return build_message(
        RENDERED,
        mail_from=FROM,
        to=to,
        to_name="Anna Müller",
        message_id=message_id_for("job-1", FROM),
        date=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        lang="de",
        extra_headers={"List-Unsubscribe": "<https://n.example/stop?e=1&sig=x>"},
    )


async def test_accepted_email_has_proper_headers_and_both_parts(mail: MailCatcher) -> None:
    """A delivered email carries From, To, Date, Message-ID, a text and an HTML part."""
    result = await SmtpSender(SmtpConfig(port=mail.port)).send(message())  # type: ignore[arg-type]
    assert result.outcome == "sent"
    got = await mail.wait_for(timeout=5)
    assert got["Message-ID"] == "<job-1@pilotly.example>"
    assert got["From"].addresses[0].addr_spec == "noreply@pilotly.example"
    assert got["To"].addresses[0].display_name == "Anna Müller"
    assert got["Date"].datetime == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert got["Subject"] == RENDERED.subject
    assert got["List-Unsubscribe"] == "<https://n.example/stop?e=1&sig=x>"
    assert got.get_body(("plain",)).get_content().strip() == "Grüße"  # type: ignore[union-attr]
    assert "<p>Grüße</p>" in got.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_4xx_reply_is_temporary_and_5xx_is_permanent(mail: MailCatcher) -> None:
    """451 means try again later; 550 means the address is rejected for good."""
    sender = SmtpSender(SmtpConfig(port=mail.port))
    mail.fail_next(1, 451)
    mail.fail_next(1, 550)
    temporary = await sender.send(message())  # type: ignore[arg-type]
    permanent = await sender.send(message())  # type: ignore[arg-type]
    assert (temporary.outcome, temporary.code) == ("retry", 451)
    assert (permanent.outcome, permanent.code) == ("failed", 550)
    assert mail.messages == []


async def test_unreachable_server_is_temporary() -> None:
    """A refused connection is retried later, not counted as a rejection."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await SmtpSender(SmtpConfig(port=port, timeout=5)).send(message())  # type: ignore[arg-type]
    assert result.outcome == "retry" and result.code is None


async def test_catcher_index_lists_and_opens_messages(mail: MailCatcher) -> None:
    """A developer sees caught mail in the index and can open its HTML and text."""
    await SmtpSender(SmtpConfig(port=mail.port)).send(message())  # type: ignore[arg-type]
    await mail.wait_for(timeout=5)
    async with serve(web_app(mail)) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/") as r:
            index = await r.text()
        async with http.get(url + "/messages/0") as r:
            html = await r.text()
        async with http.get(url + "/messages/0/plain") as r:
            text = await r.text()
    assert "Ihr Google Kalender ist getrennt" in index and 'href="/messages/0"' in index
    assert "<p>Grüße</p>" in html and text.strip() == "Grüße"


async def test_catcher_lists_messages_as_json(mail: MailCatcher) -> None:
    """A script reads caught mail from the JSON view: recipients, subject and the text part."""
    await SmtpSender(SmtpConfig(port=mail.port)).send(message())  # type: ignore[arg-type]
    await mail.wait_for(timeout=5)
    async with (
        serve(web_app(mail)) as url,
        aiohttp.ClientSession() as http,
        http.get(url + "/api/messages") as r,
    ):
        listed = await r.json()
    assert [(m["n"], m["to"], m["subject"], m["text"].strip()) for m in listed] == [
        (0, ["anna@example.org"], "Ihr Google Kalender ist getrennt", "Grüße")
    ]
