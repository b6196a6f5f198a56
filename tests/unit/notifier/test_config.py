"""notifier's SMTP and delivery settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.notifier.config import NotifierConfig, SmtpConfig
from shared.config import ConfigError, Env


def test_smtp_ca_file_is_read_from_the_environment(tmp_path: Path) -> None:
    """An operator can name a PEM file to trust for the SMTP server's certificate (SMTP_CA_FILE)."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = SmtpConfig.from_env(Env({"SMTP_TLS": "starttls", "SMTP_CA_FILE": str(ca)}))
    assert (config.tls, config.ca_file) == ("starttls", str(ca))
    assert SmtpConfig.from_env(Env({})).ca_file == ""


def test_missing_smtp_ca_file_fails_at_start_naming_the_variable(tmp_path: Path) -> None:
    """A CA file that is not there stops the service at start-up instead of at the first email."""
    with pytest.raises(ConfigError, match="SMTP_CA_FILE"):
        SmtpConfig.from_env(Env({"SMTP_CA_FILE": str(tmp_path / "missing.pem")}))


def test_an_attempt_counts_as_abandoned_after_the_smtp_timeout_plus_the_margin() -> None:
    """An operator can tune how long an unfinished send waits before another worker settles it."""
    env = {"SERVICE_TOKEN": "t", "NOTIFIER_LINK_SECRET": "s" * 32, "PUBLIC_BASE_URL": "http://127.0.0.1:8083"}
    assert NotifierConfig.from_env({**env, "SMTP_TIMEOUT": "20"}).sending_stale_after == 80.0
    tuned = NotifierConfig.from_env({**env, "SMTP_TIMEOUT": "20", "DELIVERY_STALE_MARGIN": "10"})
    assert tuned.sending_stale_after == 30.0
