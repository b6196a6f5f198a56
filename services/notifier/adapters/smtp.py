"""Outbound SMTP: builds the MIME message (text + HTML, proper headers) and sends it with aiosmtplib.

Replies are classified for the delivery worker: 2xx sent; 4xx replies, timeouts and connection
errors are temporary (retried with backoff); 5xx replies are permanent (recorded, never retried).
"""

from __future__ import annotations

import asyncio
import email.policy
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal

import aiosmtplib

from services.notifier.adapters.rendering import RenderedEmail
from services.notifier.config import SmtpConfig

Outcome = Literal["sent", "retry", "failed"]

# Headers are written unfolded up to 200 characters: Python's folding of a long subject with an
# umlaut leaves a double space before the encoded word, which mail clients then show.
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=200)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    code: int | None
    detail: str


def build_message(
    rendered: RenderedEmail,
    *,
    mail_from: str,
    to: str,
    to_name: str | None,
    message_id: str,
    date: datetime,
    lang: str,
    extra_headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative email (plain text first, then HTML)."""
    mime = EmailMessage()
    from_name, from_addr = parseaddr(mail_from)
    mime["From"] = Address(display_name=from_name, addr_spec=from_addr)
    mime["To"] = Address(display_name=to_name or "", addr_spec=to)
    mime["Subject"] = rendered.subject
    mime["Date"] = format_datetime(date)
    mime["Message-ID"] = message_id
    mime["Auto-Submitted"] = "auto-generated"
    for name, value in (extra_headers or {}).items():
        mime[name] = value
    mime.set_content(rendered.text)
    mime.add_alternative(rendered.html, subtype="html")
    mime["Content-Language"] = lang  # after set_content, which replaces Content-* headers
    return mime


def message_id_for(key: str, mail_from: str) -> str:
    """A Message-ID that stays the same for every attempt of one email (receivers can drop duplicates)."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{key}@{domain}>"


class SmtpSender:
    """One connection per email: notification volume is low and this keeps failures independent."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: EmailMessage) -> SendResult:
        smtp = self._config
        try:
            async with asyncio.timeout(smtp.timeout):  # for the whole conversation, not each command
                await aiosmtplib.send(
                    message.as_bytes(policy=WIRE_POLICY),
                    sender=message["From"].addresses[0].addr_spec,
                    recipients=[address.addr_spec for address in message["To"].addresses],
                    hostname=smtp.host,
                    port=smtp.port,
                    username=smtp.username or None,
                    password=smtp.password or None,
                    use_tls=smtp.tls == "tls",
                    start_tls=smtp.tls == "starttls",
                    cert_bundle=smtp.ca_file or None,
                    timeout=smtp.timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            return _by_code(
                min(codes) if codes else 550, "; ".join(refused.message for refused in exc.recipients)
            )
        except aiosmtplib.SMTPAuthenticationError as exc:  # our credentials, not the recipient: retry
            return SendResult("retry", exc.code, f"{exc.code} authentication failed")
        except aiosmtplib.SMTPResponseException as exc:
            return _by_code(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return SendResult("retry", None, f"{type(exc).__name__}: {exc}"[:300])
        return SendResult("sent", 250, "accepted")


def _by_code(code: int, text: str) -> SendResult:
    return SendResult("failed" if code >= 500 else "retry", code, f"{code} {text}"[:300])
