"""Settings come from the environment and fail at start-up with the variable's name."""

from __future__ import annotations

import pytest

from shared.config import CommonConfig, ConfigError, Env, GoogleConfig

BASE = {"PUBLIC_BASE_URL": "https://calendar.example.com", "SERVICE_TOKEN": "x" * 32}


def test_missing_required_value_names_the_variable() -> None:
    """Starting without SERVICE_TOKEN says exactly which variable is missing."""
    with pytest.raises(ConfigError, match="SERVICE_TOKEN is required"):
        CommonConfig.from_env(Env({"PUBLIC_BASE_URL": "http://x"}), service="auth", default_port=1)


def test_production_refuses_a_plain_http_public_url() -> None:
    """In production the public base URL used for OAuth redirects and links must be HTTPS."""
    env = Env({**BASE, "ENVIRONMENT": "production", "PUBLIC_BASE_URL": "http://calendar.example.com"})
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must use https in production"):
        CommonConfig.from_env(env, service="auth", default_port=1)


def test_malformed_number_is_named() -> None:
    """A port that is not a number is reported with its variable."""
    with pytest.raises(ConfigError, match="HTTP_PORT must be a whole number, got 'eighty'"):
        CommonConfig.from_env(Env({**BASE, "HTTP_PORT": "eighty"}), service="auth", default_port=1)


def test_defaults_point_at_google_and_localhost() -> None:
    """Without overrides the Google endpoints are Google's, and dependencies are on localhost."""
    common = CommonConfig.from_env(Env(BASE), service="sync", default_port=8082)
    google = GoogleConfig.from_env(Env({"GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "s"}))
    assert common.http_port == 8082 and "127.0.0.1" in common.database_url
    assert google.token_url == "https://oauth2.googleapis.com/token"
    assert google.calendar_base_url == "https://www.googleapis.com/calendar/v3/"


def test_every_google_endpoint_is_a_full_url_setting() -> None:
    """Another implementation of Google's endpoints can be configured with any paths."""
    env = Env(
        {
            "GOOGLE_CLIENT_ID": "id",
            "GOOGLE_CLIENT_SECRET": "s",
            "GOOGLE_TOKEN_URL": "http://fake.local/oauth/v9/token",
            "GOOGLE_CALENDAR_BASE_URL": "http://fake.local/cal",
        }
    )
    google = GoogleConfig.from_env(env)
    assert google.token_url == "http://fake.local/oauth/v9/token"
    assert google.calendar_base_url == "http://fake.local/cal/"
    with pytest.raises(ConfigError, match="GOOGLE_REVOKE_URL must be an absolute"):
        GoogleConfig.from_env(
            Env({"GOOGLE_CLIENT_ID": "i", "GOOGLE_CLIENT_SECRET": "s", "GOOGLE_REVOKE_URL": "/revoke"})
        )


def test_broker_users_default_to_calsync_names_and_can_be_renamed() -> None:
    """Each publisher's broker user has a calsync-<publisher> default that a deployment can rename, and
    publisher verification is on unless switched off."""
    default = CommonConfig.from_env(Env(BASE), service="auth", default_port=1).broker_users
    assert [default.of(p) for p in ("auth", "sync", "notifier", "platform")] == [
        "calsync-auth",
        "calsync-sync",
        "calsync-notifier",
        "calsync-platform",
    ]
    assert default.verify
    env = Env({**BASE, "AMQP_USER_PLATFORM": "booking-app", "AMQP_VERIFY_PUBLISHERS": "false"})
    renamed = CommonConfig.from_env(env, service="auth", default_port=1).broker_users
    assert renamed.of("platform") == "booking-app" and not renamed.verify


def test_internal_port_defaults_to_the_public_port_plus_1000_on_all_interfaces() -> None:
    """Probes and metrics listen on HTTP_PORT + 1000 (9081 for auth) reachable by the orchestrator."""
    common = CommonConfig.from_env(Env(BASE), service="auth", default_port=8081)
    assert (common.internal_host, common.internal_port) == ("0.0.0.0", 9081)
    moved = CommonConfig.from_env(Env({**BASE, "HTTP_PORT": "7000"}), service="auth", default_port=8081)
    assert moved.internal_port == 8000


def test_internal_port_is_configurable_and_must_differ_from_the_public_one() -> None:
    """INTERNAL_HOST and INTERNAL_PORT move the internal listener; sharing the public port is refused."""
    env = Env({**BASE, "INTERNAL_HOST": "10.0.0.5", "INTERNAL_PORT": "9100"})
    common = CommonConfig.from_env(env, service="auth", default_port=8081)
    assert (common.internal_host, common.internal_port) == ("10.0.0.5", 9100)
    with pytest.raises(ConfigError, match=r"INTERNAL_PORT must differ from HTTP_PORT \(8081\)"):
        CommonConfig.from_env(Env({**BASE, "INTERNAL_PORT": "8081"}), service="auth", default_port=8081)
    with pytest.raises(ConfigError, match="INTERNAL_PORT must be at most 65535"):
        CommonConfig.from_env(Env({**BASE, "INTERNAL_PORT": "70000"}), service="auth", default_port=8081)


def test_log_format_defaults_to_json_and_accepts_only_json_or_console() -> None:
    """LOG_FORMAT is json unless set; console is accepted and anything else is named as wrong."""
    assert CommonConfig.from_env(Env(BASE), service="auth", default_port=1).log_format == "json"
    console = CommonConfig.from_env(Env({**BASE, "LOG_FORMAT": "console"}), service="auth", default_port=1)
    assert console.log_format == "console"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        CommonConfig.from_env(Env({**BASE, "LOG_FORMAT": "pretty"}), service="auth", default_port=1)
