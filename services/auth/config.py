"""auth's settings, read once from the environment in ``__main__``; tests build ``AuthConfig`` directly.

``TOKEN_KEYS`` lists the token-encryption keys newest first (``kid:base64-32-bytes,kid2:...``): the
first one encrypts, all of them decrypt, so a key can be rotated in without downtime. The refresh,
longest-silence and circuit-breaker settings (``AuthConfig.refresh``) are read here too.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.auth.domain.refresh_rules import RefreshSettings
from shared.config import CommonConfig, ConfigError, Env, GoogleConfig, google_service

KID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
KEY_BYTES = 32
MIN_LINK_SECRET_BYTES = 32


@dataclass(frozen=True)
class SyncApiSettings:
    """Where the settings page asks sync for the user's calendars and sync health: SYNC_API_URL,
    SYNC_SERVICE_TOKEN (empty: auth's own SERVICE_TOKEN) and SYNC_API_TIMEOUT_SECONDS; the connection
    test (a probe write and the push it causes) may take SYNC_API_TEST_TIMEOUT_SECONDS."""

    url: str = "http://127.0.0.1:8082"
    service_token: str = field(default="", repr=False)
    timeout: float = 3.0
    test_timeout: float = 20.0

    @classmethod
    def from_env(cls, env: Env) -> SyncApiSettings:
        return cls(
            url=env.url("SYNC_API_URL", cls.url),
            service_token=env.text("SYNC_SERVICE_TOKEN", ""),
            timeout=env.number("SYNC_API_TIMEOUT_SECONDS", cls.timeout, minimum=0.1),
            test_timeout=env.number("SYNC_API_TEST_TIMEOUT_SECONDS", cls.test_timeout, minimum=0.1),
        )


@dataclass(frozen=True)
class AuthConfig:
    """Everything auth needs; fields after ``link_secret`` have safe defaults."""

    common: CommonConfig
    google: GoogleConfig
    token_keys: tuple[tuple[str, bytes], ...]
    link_secret: bytes
    link_ttl: int = 48 * 3600  # seconds a settings link stays valid unless the caller asks otherwise
    link_max_ttl: int = 72 * 3600
    state_ttl: int = 600  # seconds between Connect and Google's callback
    session_ttl: int = 3600  # seconds a settings page session (cookie set from a link) lasts
    revoke_retry_interval: float = 30.0  # seconds between passes over pending revocations
    revoke_max_attempts: int = 20
    revoke_hold: float = 30.0  # seconds a deleted grant's revoke waits for channels.stopped (0: no hold)
    risc_refetch_interval: float = 60.0  # seconds: an unknown kid refetches Google's keys at most this often
    refresh: RefreshSettings = field(default_factory=RefreshSettings)  # refresh, longest silence, breaker
    sync: SyncApiSettings = field(default_factory=SyncApiSettings)  # the settings page's Calendar
    scopes: tuple[str, ...] = field(
        default=(
            "openid",
            "email",
            "https://www.googleapis.com/auth/calendar.events",
            "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
        )
    )

    @property
    def redirect_uri(self) -> str:
        return self.common.public_url("/oauth/callback")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuthConfig:
        env = Env(environ)
        common, google = google_service(env, service="auth", default_port=8081)
        return cls(
            common=common,
            google=google,
            token_keys=parse_token_keys(env.text("TOKEN_KEYS")),
            link_secret=parse_link_secret(env.text("LINK_SECRET")),
            link_ttl=env.integer("LINK_TTL_SECONDS", 48 * 3600, minimum=60),
            link_max_ttl=env.integer("LINK_MAX_TTL_SECONDS", 72 * 3600, minimum=60),
            state_ttl=env.integer("OAUTH_STATE_TTL_SECONDS", 600, minimum=60),
            session_ttl=env.integer("SETTINGS_SESSION_TTL_SECONDS", 3600, minimum=60),
            revoke_retry_interval=env.number("REVOKE_RETRY_INTERVAL", 30.0, minimum=0.01),
            revoke_max_attempts=env.integer("REVOKE_MAX_ATTEMPTS", 20, minimum=1),
            revoke_hold=env.number("REVOKE_HOLD_SECONDS", 30.0, minimum=0),
            risc_refetch_interval=env.number("RISC_KEYS_REFETCH_SECONDS", 60.0, minimum=0),
            refresh=refresh_settings_from_env(env),
            sync=SyncApiSettings.from_env(env),
        )


def parse_token_keys(raw: str) -> tuple[tuple[str, bytes], ...]:
    """``kid:base64,kid2:base64`` (newest first) -> ((kid, 32-byte key), ...); errors name TOKEN_KEYS."""
    keys: list[tuple[str, bytes]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep or not KID_PATTERN.match(kid):
            raise ConfigError("TOKEN_KEYS entries must look like 'kid:base64key' (kid: letters, digits, _.-)")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"TOKEN_KEYS key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(f"TOKEN_KEYS key {kid!r} must decode to {KEY_BYTES} bytes, got {len(key)}")
        if any(kid == known for known, _ in keys):
            raise ConfigError(f"TOKEN_KEYS names key id {kid!r} twice")
        keys.append((kid, key))
    if not keys:
        raise ConfigError("TOKEN_KEYS must name at least one key")
    return tuple(keys)


def parse_link_secret(raw: str) -> bytes:
    secret = raw.encode()
    if len(secret) < MIN_LINK_SECRET_BYTES:
        raise ConfigError(f"LINK_SECRET must be at least {MIN_LINK_SECRET_BYTES} characters long")
    return secret


def refresh_settings_from_env(env: Env) -> RefreshSettings:
    default = RefreshSettings()
    return RefreshSettings(
        lead=env.number("REFRESH_LEAD_SECONDS", default.lead, minimum=1),
        jitter=env.number("REFRESH_JITTER_SECONDS", default.jitter),
        min_validity=env.number("TOKEN_MIN_VALIDITY_SECONDS", default.min_validity),
        active_window=env.number("REFRESH_ACTIVE_WINDOW_SECONDS", default.active_window, minimum=1),
        max_silence=env.number("REFRESH_MAX_SILENCE_SECONDS", default.max_silence, minimum=60),
        expiring_notice=env.number("GRANT_EXPIRING_NOTICE_SECONDS", default.expiring_notice),
        retry_base=env.number("REFRESH_RETRY_BASE_SECONDS", default.retry_base, minimum=0.01),
        retry_max=env.number("REFRESH_RETRY_MAX_SECONDS", default.retry_max, minimum=0.01),
        breaker_window=env.number("BREAKER_WINDOW_SECONDS", default.breaker_window, minimum=1),
        breaker_min_dead=env.integer("BREAKER_MIN_DEAD", default.breaker_min_dead, minimum=1),
        breaker_share=env.number("BREAKER_SHARE", default.breaker_share),
        poll_interval=env.number("REFRESH_POLL_INTERVAL", default.poll_interval, minimum=0.01),
        batch_size=env.integer("REFRESH_BATCH_SIZE", default.batch_size, minimum=1),
        concurrency=env.integer("REFRESH_CONCURRENCY", default.concurrency, minimum=1),
        claim_lease=env.number("REFRESH_CLAIM_LEASE_SECONDS", default.claim_lease, minimum=1),
        http_timeout=env.number("GOOGLE_HTTP_TIMEOUT_SECONDS", default.http_timeout, minimum=0.1),
        lock_wait=env.number("REFRESH_LOCK_WAIT_SECONDS", default.lock_wait, minimum=0.01),
        force_min_interval=env.number("FORCE_REFRESH_MIN_INTERVAL_SECONDS", default.force_min_interval),
    )
