"""sync's settings: defaults, and clear errors for a bad source-link template or sendUpdates value."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.sync.config import SyncConfig
from shared.config import ConfigError

BASE = {
    "PUBLIC_BASE_URL": "http://127.0.0.1:8082",
    "SERVICE_TOKEN": "t",
    "GOOGLE_CLIENT_ID": "id",
    "GOOGLE_CLIENT_SECRET": "secret",
}


def test_defaults_send_no_invitations_and_keep_pending_work_thirty_days() -> None:
    """Out of the box Google mails nobody, past appointments replay for 7 days, pending work of a
    deleted connection is kept 30 days."""
    config = SyncConfig.from_env(BASE)
    assert config.writer.send_updates == "none"
    assert config.writer.replay_past == timedelta(days=7)
    assert config.writer.pending_retention == timedelta(days=30)


def test_settings_are_read_from_the_environment() -> None:
    """Every documented variable changes its setting."""
    config = SyncConfig.from_env(
        {
            **BASE,
            "SYNC_SEND_UPDATES": "externalOnly",
            "REPLAY_PAST_DAYS": "2",
            "PENDING_RETENTION_DAYS": "5",
            "SYNC_WORKERS": "8",
            "SYNC_PER_USER_IN_FLIGHT": "3",
            "APPOINTMENT_URL_TEMPLATE": "https://p.example/a/{appointment_id}/view",
        }
    )
    assert (config.writer.send_updates, config.writer.workers, config.writer.per_user_in_flight) == (
        "externalOnly",
        8,
        3,
    )
    assert config.writer.replay_past == timedelta(days=2)
    assert config.mapping.url_template == "https://p.example/a/{appointment_id}/view"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SYNC_SEND_UPDATES", "sometimes", "SYNC_SEND_UPDATES must be one of"),
        ("APPOINTMENT_URL_TEMPLATE", "https://p.example/a", "must contain {appointment_id}"),
        ("APPOINTMENT_URL_TEMPLATE", "https://p.example/{appointment_id}/{user}", "no other field"),
        ("APPOINTMENT_URL_TEMPLATE", "ftp://p.example/{appointment_id}", "absolute http(s) URL"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str, message: str) -> None:
    """A wrong value stops start-up with a message naming the variable."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SyncConfig.from_env({**BASE, name: value})


def test_channels_are_off_without_a_webhook_address_and_last_a_week_by_default() -> None:
    config = SyncConfig.from_env(BASE).channels
    assert config.webhook_url is None
    assert (config.ttl, config.renew_before) == (timedelta(days=7), timedelta(days=1))
    env = {**BASE, "SYNC_WEBHOOK_URL": "https://sync.example.com/webhooks/google/calendar"}
    env |= {"SYNC_CHANNEL_TTL_SECONDS": "3600", "SYNC_CHANNEL_RENEW_BEFORE_SECONDS": "600"}
    config = SyncConfig.from_env(env).channels
    assert config.webhook_url == "https://sync.example.com/webhooks/google/calendar"
    assert (config.ttl, config.renew_before) == (timedelta(hours=1), timedelta(minutes=10))
    with pytest.raises(ConfigError, match="SYNC_WEBHOOK_URL"):
        SyncConfig.from_env({**BASE, "SYNC_WEBHOOK_URL": "sync.example.com/hook"})
