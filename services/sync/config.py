"""sync's settings, read once from the environment in ``__main__`` (documented in deploy/env.example)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.sync.domain.failures import Backoff
from services.sync.domain.mapping import SEND_UPDATES, MappingRules
from shared.config import CommonConfig, ConfigError, Env, GoogleConfig, check_url, google_service


@dataclass(frozen=True)
class WriterConfig:
    """How the writer claims and writes pending appointments."""

    workers: int = 4  # concurrent writes per replica
    per_user_in_flight: int = 2  # at most this many writes of one user at once, across replicas
    poll_interval: float = 1.0  # seconds between looks for due work when nothing woke the writer
    lease: timedelta = timedelta(seconds=120)  # a claim not settled by then is taken over
    send_updates: str = "none"
    replay_past: timedelta = timedelta(days=7)
    pending_retention: timedelta = timedelta(days=30)
    google_timeout: float = 10.0
    token_timeout: float = 10.0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class InboundConfig:
    """How sync reads changes from Google (docs/sync.md "Changes made in Google")."""

    workers: int = 2  # calendars synced at once per replica
    poll_interval: float = 1.0  # seconds between looks for due calendars
    lease: timedelta = timedelta(seconds=300)  # a run not finished by then is taken over
    safety_net: timedelta = timedelta(hours=6)  # a calendar without pushes is synced this often
    full_sync_past: timedelta = timedelta(days=30)  # a full list starts this long ago (no end bound)
    page_size: int = 250  # events.list maxResults
    retry_in: timedelta = timedelta(seconds=60)  # after Google or auth failed
    follow_up_after: timedelta = timedelta(seconds=2)  # a follow-up run waits this long after a run


@dataclass(frozen=True)
class ChannelConfig:
    """Watch channels for push notifications (docs/sync.md); without ``webhook_url`` none are made."""

    webhook_url: str | None = None  # public HTTPS address of POST /webhooks/google/calendar
    ttl: timedelta = timedelta(days=7)  # asked of Google as params.ttl; Google's expiration is stored
    renew_before: timedelta = timedelta(days=1)  # a replacement is made when less is left
    interval: float = 60.0  # seconds between reconciling rounds
    cache_seconds: float = 5.0  # how long the webhook trusts a channel row it read
    batch: int = 20  # channels made, and stops tried, per round; a full batch runs the next at once
    test_push_wait: float = 5.0  # seconds a connection test waits for the push its probe causes


@dataclass(frozen=True)
class SyncConfig:
    common: CommonConfig
    google: GoogleConfig
    writer: WriterConfig = field(default_factory=WriterConfig)
    mapping: MappingRules = field(default_factory=MappingRules)
    inbound: InboundConfig = field(default_factory=InboundConfig)
    channels: ChannelConfig = field(default_factory=ChannelConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SyncConfig:
        env = Env(environ)
        common, google = google_service(env, service="sync", default_port=8082)
        return cls(
            common,
            google,
            writer=_writer(env),
            mapping=_mapping(env),
            inbound=_inbound(env),
            channels=_channels(env),
        )


def _writer(env: Env) -> WriterConfig:
    return WriterConfig(
        workers=env.integer("SYNC_WORKERS", 4, minimum=1),
        per_user_in_flight=env.integer("SYNC_PER_USER_IN_FLIGHT", 2, minimum=1),
        poll_interval=env.number("SYNC_POLL_INTERVAL", 1.0, minimum=0.01),
        lease=timedelta(seconds=env.number("SYNC_LEASE_SECONDS", 120, minimum=1)),
        send_updates=env.choice("SYNC_SEND_UPDATES", SEND_UPDATES, "none"),
        replay_past=timedelta(days=env.integer("REPLAY_PAST_DAYS", 7, minimum=0)),
        pending_retention=timedelta(days=env.integer("PENDING_RETENTION_DAYS", 30, minimum=1)),
        google_timeout=env.number("GOOGLE_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        token_timeout=env.number("SYNC_TOKEN_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        backoff=Backoff(
            base=env.number("SYNC_BACKOFF_BASE_SECONDS", 1.0, minimum=0.01),
            cap=env.number("SYNC_BACKOFF_CAP_SECONDS", 64.0, minimum=0.01),
        ),
    )


def _inbound(env: Env) -> InboundConfig:
    return InboundConfig(
        workers=env.integer("SYNC_INBOUND_WORKERS", 2, minimum=1),
        poll_interval=env.number("SYNC_INBOUND_POLL_INTERVAL", 1.0, minimum=0.01),
        lease=timedelta(seconds=env.number("SYNC_INBOUND_LEASE_SECONDS", 300, minimum=1)),
        safety_net=timedelta(seconds=env.number("SYNC_SAFETY_NET_SECONDS", 21600, minimum=60)),
        full_sync_past=timedelta(days=env.integer("SYNC_FULL_SYNC_PAST_DAYS", 30, minimum=0)),
        page_size=env.integer("SYNC_INBOUND_PAGE_SIZE", 250, minimum=1),
        retry_in=timedelta(seconds=env.number("SYNC_INBOUND_RETRY_SECONDS", 60, minimum=1)),
        follow_up_after=timedelta(seconds=env.number("SYNC_INBOUND_FOLLOW_UP_SECONDS", 2, minimum=0)),
    )


def _channels(env: Env) -> ChannelConfig:
    webhook = env.text("SYNC_WEBHOOK_URL", "")
    return ChannelConfig(
        webhook_url=check_url("SYNC_WEBHOOK_URL", webhook) if webhook else None,
        ttl=timedelta(seconds=env.integer("SYNC_CHANNEL_TTL_SECONDS", 604800, minimum=60)),
        renew_before=timedelta(seconds=env.integer("SYNC_CHANNEL_RENEW_BEFORE_SECONDS", 86400, minimum=1)),
        interval=env.number("SYNC_CHANNEL_RECONCILE_SECONDS", 60.0, minimum=0.01),
        cache_seconds=env.number("SYNC_CHANNEL_CACHE_SECONDS", 5.0, minimum=0.0),
        test_push_wait=env.number("SYNC_CONNECTION_TEST_PUSH_WAIT_SECONDS", 5.0, minimum=0.1),
    )


def _mapping(env: Env) -> MappingRules:
    template = env.url("APPOINTMENT_URL_TEMPLATE", "https://app.example.com/appointments/{appointment_id}")
    if "{appointment_id}" not in template or template.replace("{appointment_id}", "").count("{"):
        raise ConfigError(
            f"APPOINTMENT_URL_TEMPLATE must contain {{appointment_id}} and no other field, got {template!r}"
        )
    return MappingRules(
        url_template=template,
        source_title=env.text("APPOINTMENT_SOURCE_TITLE", "calsync"),
        source_tag=env.text("SYNC_SOURCE_TAG", "calsync"),
    )
