"""notifier's settings, read once from the environment in ``__main__`` (tests build them directly)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr

from shared.config import CommonConfig, ConfigError, Env


@dataclass(frozen=True)
class SmtpConfig:
    """Where mail goes: ``tls`` is ``none`` (plain), ``starttls`` (upgrade) or ``tls`` (implicit TLS).

    With TLS the server's certificate is verified against the system's CAs plus ``ca_file``
    (SMTP_CA_FILE: a PEM file, for a server whose certificate comes from a private CA or is
    self-signed). ``username``/``password`` (SMTP_USERNAME/SMTP_PASSWORD) log in when set.
    """

    host: str = "127.0.0.1"
    port: int = 1025
    tls: str = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    ca_file: str = ""

    @classmethod
    def from_env(cls, env: Env) -> SmtpConfig:
        return cls(
            host=env.text("SMTP_HOST", "127.0.0.1"),
            port=env.integer("SMTP_PORT", 1025, minimum=1),
            tls=env.choice("SMTP_TLS", ("none", "starttls", "tls"), "none"),
            username=env.text("SMTP_USERNAME", ""),
            password=env.text("SMTP_PASSWORD", ""),
            timeout=env.number("SMTP_TIMEOUT", 30.0, minimum=1.0),
            ca_file=_readable_file(env, "SMTP_CA_FILE"),
        )


def _readable_file(env: Env, name: str) -> str:
    path = env.text(name, "")
    if path and not os.access(path, os.R_OK):
        raise ConfigError(f"{name} must name a readable file, got {path!r}")
    return path


@dataclass(frozen=True)
class NotifierConfig:
    """Everything the notifier needs besides the common settings."""

    common: CommonConfig
    link_secret: str = field(repr=False)
    auth_api_url: str = "http://127.0.0.1:8081"
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    mail_from: str = "calsync <calsync@localhost>"
    product_name: str = "calsync"
    operator_email: str = ""
    operator_locale: str = "en"
    reminder_days: tuple[float, ...] = (1, 3, 7)
    reconnected_email: bool = True
    delivery_poll_interval: float = 1.0
    delivery_retry_delays: tuple[float, ...] = (30, 120, 600, 1800, 3600)
    delivery_max_attempts: int = 20
    delivery_concurrency: int = 4
    delivery_stale_margin: float = 60.0

    @property
    def sending_stale_after(self) -> float:
        """Seconds after which an attempt still marked ``sending`` belongs to a worker that died."""
        return self.smtp.timeout + self.delivery_stale_margin

    @property
    def reminder_offsets(self) -> tuple[timedelta, ...]:
        return tuple(timedelta(days=days) for days in self.reminder_days)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifierConfig:
        env = Env(environ)
        common = CommonConfig.from_env(env, service="notifier", default_port=8083)
        mail_from = env.text("MAIL_FROM", "calsync <calsync@localhost>")
        if "@" not in parseaddr(mail_from)[1]:
            raise ConfigError(
                f"MAIL_FROM must be an address like 'Name <noreply@example.org>', got {mail_from!r}"
            )
        secret = env.text("NOTIFIER_LINK_SECRET")
        if len(secret) < 32:
            raise ConfigError("NOTIFIER_LINK_SECRET must be at least 32 characters")
        return cls(
            common=common,
            link_secret=secret,
            auth_api_url=env.url("AUTH_API_URL", "http://127.0.0.1:8081"),
            smtp=SmtpConfig.from_env(env),
            mail_from=mail_from,
            product_name=env.text("MAIL_PRODUCT_NAME", "calsync"),
            operator_email=env.text("OPERATOR_EMAIL", ""),
            operator_locale=env.choice("OPERATOR_LOCALE", ("de", "en"), "en"),
            reminder_days=_numbers(env, "REMINDER_DAYS", "1,3,7"),
            reconnected_email=env.flag("RECONNECTED_EMAIL", True),
            delivery_poll_interval=env.number("DELIVERY_POLL_INTERVAL", 1.0, minimum=0.01),
            delivery_retry_delays=_numbers(env, "DELIVERY_RETRY_DELAYS", "30,120,600,1800,3600"),
            delivery_max_attempts=env.integer("DELIVERY_MAX_ATTEMPTS", 20, minimum=1),
            delivery_concurrency=env.integer("DELIVERY_CONCURRENCY", 4, minimum=1),
            delivery_stale_margin=env.number("DELIVERY_STALE_MARGIN", 60.0, minimum=0.0),
        )


def _numbers(env: Env, name: str, default: str) -> tuple[float, ...]:
    """A comma-separated list of non-negative numbers in ascending order; ``none`` for an empty list."""
    raw = env.items(name, default)
    if raw == ("none",):
        return ()
    try:
        values = tuple(float(value) for value in raw)
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated numbers, got {','.join(raw)!r}") from None
    if any(value < 0 for value in values) or list(values) != sorted(values):
        raise ConfigError(f"{name} must be ascending non-negative numbers, got {','.join(raw)!r}")
    return values
