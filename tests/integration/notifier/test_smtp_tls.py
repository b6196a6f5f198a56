"""The SMTP adapter over TLS against a real SMTP server with a self-signed certificate: STARTTLS with
login, implicit TLS, a wrong password and an untrusted certificate."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.mailcatcher import MailCatcher
from services.notifier.adapters.rendering import RenderedEmail
from services.notifier.adapters.smtp import SendResult, SmtpSender, build_message, message_id_for
from services.notifier.config import SmtpConfig

FROM = "Pilotly <noreply@pilotly.example>"
LOGINS = {"notifier": "s3cret-smtp-password"}


def self_signed(directory: Path) -> tuple[ssl.SSLContext, str]:
    """A certificate for 127.0.0.1: the server's SSLContext and the PEM file a client may trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, str(cert_file)


def message() -> EmailMessage:
    rendered = RenderedEmail(subject="Ihr Google Kalender ist getrennt", text="Grüße\n", html="<p>Grüße</p>")
    return build_message(
        rendered,
        mail_from=FROM,
        to="anna@example.org",
        to_name="Anna Müller",
        message_id=message_id_for("job-tls", FROM),
        date=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        lang="de",
    )


async def send(mail: MailCatcher, *, password: str = LOGINS["notifier"], ca_file: str = "") -> SendResult:
    """One email through the adapter to ``mail``, in its TLS mode, logging in as ``notifier``."""
    config = SmtpConfig(port=mail.port, tls=mail.tls, username="notifier", password=password, ca_file=ca_file)
    return await SmtpSender(config).send(message())


async def test_starttls_with_login_delivers_encrypted(tmp_path: Path) -> None:
    """With SMTP_TLS=starttls, a login and the server's certificate trusted, the email goes out encrypted."""
    context, ca_file = self_signed(tmp_path)
    async with MailCatcher(tls="starttls", ssl_context=context, logins=LOGINS) as mail:
        assert (await send(mail, ca_file=ca_file)).outcome == "sent"
        await mail.wait_for(timeout=5)
    got = mail.received[0]
    assert got.encrypted and got.login == "notifier"
    assert (
        got.rcpt_tos == ["anna@example.org"] and got.message["Subject"] == "Ihr Google Kalender ist getrennt"
    )


async def test_implicit_tls_delivers_encrypted(tmp_path: Path) -> None:
    """With SMTP_TLS=tls the connection is encrypted from the first byte (port 465 style)."""
    context, ca_file = self_signed(tmp_path)
    async with MailCatcher(tls="tls", ssl_context=context, logins=LOGINS) as mail:
        assert (await send(mail, ca_file=ca_file)).outcome == "sent"
        await mail.wait_for(timeout=5)
    assert mail.received[0].encrypted and mail.received[0].login == "notifier"


async def test_wrong_password_is_temporary_and_sends_nothing(tmp_path: Path) -> None:
    """A refused login (535) is our credentials, not the recipient: the email is kept and retried."""
    context, ca_file = self_signed(tmp_path)
    async with MailCatcher(tls="starttls", ssl_context=context, logins=LOGINS) as mail:
        result = await send(mail, password="wrong", ca_file=ca_file)
    assert (result.outcome, result.code) == ("retry", 535)
    assert "wrong" not in result.detail
    assert mail.received == []


async def test_untrusted_certificate_is_not_accepted(tmp_path: Path) -> None:
    """Without SMTP_CA_FILE a self-signed certificate fails verification: nothing is sent, it is retried."""
    context, _ca_file = self_signed(tmp_path)
    async with MailCatcher(tls="starttls", ssl_context=context, logins=LOGINS) as mail:
        result = await send(mail)
    assert result.outcome == "retry" and result.code is None
    assert "CERTIFICATE_VERIFY_FAILED" in result.detail
    assert mail.received == []
