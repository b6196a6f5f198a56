"""AMQP_URL with one or several broker addresses: what is accepted, and errors that name the variable."""

from __future__ import annotations

import pytest

from shared.config import DEFAULT_AMQP_URL, CommonConfig, ConfigError, Env, amqp_addresses


def test_one_url_is_one_address() -> None:
    """The usual single URL stays a single address."""
    assert amqp_addresses(DEFAULT_AMQP_URL) == (DEFAULT_AMQP_URL,)


def test_comma_separated_urls_are_tried_in_order() -> None:
    """Several comma-separated URLs become the addresses in their order, blanks and spaces ignored."""
    value = " amqp://u:p@mq-1:5672/calsync, amqps://u:p@mq-2/calsync ,,amqp://u:p@mq-3:5673/calsync"
    assert amqp_addresses(value) == (
        "amqp://u:p@mq-1:5672/calsync",
        "amqps://u:p@mq-2/calsync",
        "amqp://u:p@mq-3:5673/calsync",
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "at least one"),
        ("http://u:secret@mq-1/", "address 1 is not"),
        ("amqp://u:secret@mq-1/,mq-2:5672", "address 2 is not"),
        ("amqp://u:secret@mq-1:99999/", "address 1 is not"),
        ("amqp://u:secret@mq-1/a,amqp://u:secret@mq-2/b", "same user and vhost"),
        ("amqp://u:secret@mq-1/,amqp://other:secret@mq-2/", "same user and vhost"),
    ],
)
def test_bad_addresses_are_refused_without_showing_the_password(value: str, error: str) -> None:
    """A malformed or mixed list is refused with a message naming AMQP_URL and never the password."""
    with pytest.raises(ConfigError) as raised:
        amqp_addresses(value)
    assert error in str(raised.value)
    assert "AMQP_URL" in str(raised.value)
    assert "secret" not in str(raised.value)


def test_service_config_reads_several_addresses() -> None:
    """A service's AMQP_URL may list the nodes of a cluster."""
    env = Env(
        {
            "AMQP_URL": "amqp://u:p@mq-1/, amqp://u:p@mq-2/",
            "PUBLIC_BASE_URL": "http://127.0.0.1:8080",
            "SERVICE_TOKEN": "t",
        }
    )
    common = CommonConfig.from_env(env, service="auth", default_port=8080)
    assert common.amqp_url == "amqp://u:p@mq-1/,amqp://u:p@mq-2/"
