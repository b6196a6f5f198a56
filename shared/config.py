"""Typed settings from the environment, validated once at start-up.

Each service's ``config.py`` builds a frozen dataclass from these helpers in ``__main__`` only;
tests construct the dataclasses directly. Every error names the variable it is about.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

_MISSING: Final = object()

DEFAULT_DATABASE_URL = "postgresql://calsync:calsync@127.0.0.1:5432/calsync"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Env:
    """Reads typed values from an environment mapping and raises ``ConfigError`` naming the variable."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def text(self, name: str, default: object = _MISSING) -> str:
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if default is _MISSING:
            raise ConfigError(f"{name} is required but not set")
        return f"{default}"

    def integer(
        self, name: str, default: object = _MISSING, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        raw = self.text(name, default)
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be at most {maximum}, got {value}")
        return value

    def number(self, name: str, default: object = _MISSING, *, minimum: float = 0.0) -> float:
        raw = self.text(name, default)
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name, "true" if default else "false").lower()
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def choice(self, name: str, choices: tuple[str, ...], default: object = _MISSING) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def url(self, name: str, default: object = _MISSING, *, https: bool = False) -> str:
        value = self.text(name, default)
        return check_url(name, value, https=https)

    def items(self, name: str, default: object = _MISSING, *, sep: str = ",") -> tuple[str, ...]:
        raw = self.text(name, default)
        return tuple(part.strip() for part in raw.split(sep) if part.strip())


def check_url(name: str, value: str, *, https: bool = False) -> str:
    """Validate an absolute http(s) URL; with ``https`` only HTTPS is accepted."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an absolute http(s) URL, got {value!r}")
    if https and parts.scheme != "https":
        raise ConfigError(f"{name} must use https in production, got {value!r}")
    return value


def amqp_addresses(value: str, name: str = "AMQP_URL") -> tuple[str, ...]:
    """The broker addresses in ``value``: one amqp(s) URL, or several separated by commas (the nodes
    of one cluster, tried in turn). All must name the same user and vhost; a comma in a password is
    written ``%2C``. Errors name ``name`` and never show a password."""
    addresses = tuple(part.strip() for part in value.split(",") if part.strip())
    if not addresses:
        raise ConfigError(f"{name} must name at least one amqp:// URL")
    identities = set()
    for position, address in enumerate(addresses, start=1):
        parts = urlsplit(address)
        try:
            valid = parts.scheme in ("amqp", "amqps") and bool(parts.hostname) and parts.port != 0
        except ValueError:
            valid = False
        if not valid:
            raise ConfigError(
                f"{name} must be amqp:// or amqps:// URLs separated by commas; address {position} is not"
            )
        identities.add((unquote(parts.username or ""), parts.path if parts.path not in ("", "/") else "/"))
    if len(identities) > 1:
        raise ConfigError(f"every address in {name} must use the same user and vhost")
    return addresses


@dataclass(frozen=True)
class BrokerUsers:
    """The RabbitMQ user each publisher connects as (docs/security.md).

    With ``verify`` (the default) a consumer accepts a message only if its broker-checked ``user_id``
    is the user of the documented publisher of the message's exchange (``shared.topology.PUBLISHER_OF``),
    and a token reply only from auth's user."""

    auth: str = "calsync-auth"
    sync: str = "calsync-sync"
    notifier: str = "calsync-notifier"
    platform: str = "calsync-platform"
    verify: bool = True

    def of(self, publisher: str) -> str:
        """The broker user of ``publisher`` (auth, sync, notifier or platform)."""
        users = {"auth": self.auth, "sync": self.sync, "notifier": self.notifier, "platform": self.platform}
        return users[publisher]

    @classmethod
    def from_env(cls, env: Env) -> BrokerUsers:
        return cls(
            auth=env.text("AMQP_USER_AUTH", cls.auth),
            sync=env.text("AMQP_USER_SYNC", cls.sync),
            notifier=env.text("AMQP_USER_NOTIFIER", cls.notifier),
            platform=env.text("AMQP_USER_PLATFORM", cls.platform),
            verify=env.flag("AMQP_VERIFY_PUBLISHERS", True),
        )


@dataclass(frozen=True)
class CommonConfig:
    """Settings every service has: where its dependencies are and how it is reached."""

    service: str
    database_url: str = DEFAULT_DATABASE_URL
    amqp_url: str = DEFAULT_AMQP_URL  # one URL, or several comma-separated (shared.config.amqp_addresses)
    amqp_prefix: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # /healthz, /readyz and /metrics are served here only. from_env defaults to HTTP_PORT + 1000 on
    # all interfaces (for orchestrator probes); built directly (tests, tools) a free local port.
    internal_host: str = "127.0.0.1"
    internal_port: int = 0
    public_base_url: str = "http://127.0.0.1:8080"
    environment: str = "development"
    log_level: str = "INFO"
    log_format: str = "json"  # json (deployments) | console (key=value for a terminal)
    service_token: str = ""
    retry_delays_ms: tuple[int, ...] = (1_000, 10_000, 60_000, 300_000)
    outbox_poll_interval: float = 0.2
    db_pool_size: int = 10
    broker_users: BrokerUsers = field(default_factory=BrokerUsers)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    def public_url(self, path: str) -> str:
        """An absolute public URL for ``path`` (which starts with '/')."""
        return self.public_base_url.rstrip("/") + path

    @classmethod
    def from_env(cls, env: Env, *, service: str, default_port: int) -> CommonConfig:
        environment = env.choice("ENVIRONMENT", ("development", "production"), "development")
        production = environment == "production"
        delays = env.items("AMQP_RETRY_DELAYS_MS", "1000,10000,60000,300000")
        try:
            retry_delays = tuple(int(d) for d in delays)
        except ValueError:
            raise ConfigError(f"AMQP_RETRY_DELAYS_MS must be whole numbers, got {delays!r}") from None
        http_port = env.integer("HTTP_PORT", default_port, minimum=1, maximum=65535)
        internal_port = env.integer("INTERNAL_PORT", http_port + 1000, minimum=1, maximum=65535)
        if internal_port == http_port:
            raise ConfigError(f"INTERNAL_PORT must differ from HTTP_PORT ({http_port})")
        return cls(
            service=service,
            database_url=env.text("DATABASE_URL", DEFAULT_DATABASE_URL),
            amqp_url=",".join(amqp_addresses(env.text("AMQP_URL", DEFAULT_AMQP_URL))),
            amqp_prefix=env.text("AMQP_PREFIX", ""),
            http_host=env.text("HTTP_HOST", "127.0.0.1"),
            http_port=http_port,
            internal_host=env.text("INTERNAL_HOST", "0.0.0.0"),  # noqa: S104 - probes come from outside
            internal_port=internal_port,
            public_base_url=env.url("PUBLIC_BASE_URL", https=production),
            environment=environment,
            log_level=env.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
            log_format=env.choice("LOG_FORMAT", ("json", "console"), "json"),
            service_token=env.text("SERVICE_TOKEN"),
            retry_delays_ms=retry_delays,
            outbox_poll_interval=env.number("OUTBOX_POLL_INTERVAL", 0.2, minimum=0.01),
            db_pool_size=env.integer("DB_POOL_SIZE", 10, minimum=2),
            broker_users=BrokerUsers.from_env(env),
        )


GOOGLE_DEFAULTS = {
    "GOOGLE_AUTH_URL": "https://accounts.google.com/o/oauth2/v2/auth",
    "GOOGLE_TOKEN_URL": "https://oauth2.googleapis.com/token",
    "GOOGLE_REVOKE_URL": "https://oauth2.googleapis.com/revoke",
    "GOOGLE_USERINFO_URL": "https://openidconnect.googleapis.com/v1/userinfo",
    "GOOGLE_RISC_CONFIG_URL": "https://accounts.google.com/.well-known/risc-configuration",
    "GOOGLE_CALENDAR_BASE_URL": "https://www.googleapis.com/calendar/v3/",
}


@dataclass(frozen=True)
class GoogleConfig:
    """Our OAuth client and every Google endpoint, as full URLs (other implementations use other paths)."""

    client_id: str
    client_secret: str
    auth_url: str = GOOGLE_DEFAULTS["GOOGLE_AUTH_URL"]
    token_url: str = GOOGLE_DEFAULTS["GOOGLE_TOKEN_URL"]
    revoke_url: str = GOOGLE_DEFAULTS["GOOGLE_REVOKE_URL"]
    userinfo_url: str = GOOGLE_DEFAULTS["GOOGLE_USERINFO_URL"]
    risc_config_url: str = GOOGLE_DEFAULTS["GOOGLE_RISC_CONFIG_URL"]
    calendar_base_url: str = GOOGLE_DEFAULTS["GOOGLE_CALENDAR_BASE_URL"]

    @classmethod
    def from_env(cls, env: Env) -> GoogleConfig:
        urls = {name: env.url(name, default) for name, default in GOOGLE_DEFAULTS.items()}
        base = urls["GOOGLE_CALENDAR_BASE_URL"]
        return cls(
            client_id=env.text("GOOGLE_CLIENT_ID"),
            client_secret=env.text("GOOGLE_CLIENT_SECRET"),
            auth_url=urls["GOOGLE_AUTH_URL"],
            token_url=urls["GOOGLE_TOKEN_URL"],
            revoke_url=urls["GOOGLE_REVOKE_URL"],
            userinfo_url=urls["GOOGLE_USERINFO_URL"],
            risc_config_url=urls["GOOGLE_RISC_CONFIG_URL"],
            calendar_base_url=base if base.endswith("/") else base + "/",
        )


def google_service(env: Env, *, service: str, default_port: int) -> tuple[CommonConfig, GoogleConfig]:
    """The settings of a service that calls Google on its users' behalf: the common ones and Google's."""
    return CommonConfig.from_env(env, service=service, default_port=default_port), GoogleConfig.from_env(env)
