"""Reading auth's settings: encryption keys and the link secret fail early with the variable's name."""

from __future__ import annotations

import base64
import os

import pytest

from services.auth.config import AuthConfig, parse_token_keys
from shared.config import ConfigError

KEY = base64.b64encode(os.urandom(32)).decode()


def test_token_keys_newest_first() -> None:
    """TOKEN_KEYS lists keys newest first; the first one will encrypt."""
    keys = parse_token_keys(f"2026b:{KEY}, 2026a:{KEY}")
    assert [kid for kid, _ in keys] == ["2026b", "2026a"] and len(keys[0][1]) == 32


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "nokey",
        f"bad kid:{KEY}",
        "k1:not-base64!",
        f"k1:{base64.b64encode(b'short').decode()}",
        f"k:{KEY},k:{KEY}",
    ],
)
def test_bad_token_keys_name_the_variable(raw: str) -> None:
    """Every malformed TOKEN_KEYS value is refused with a message naming TOKEN_KEYS."""
    with pytest.raises(ConfigError, match="TOKEN_KEYS"):
        parse_token_keys(raw)


def test_from_env_reads_keys_secret_and_urls() -> None:
    """A complete environment gives a config whose redirect URI is the public callback URL."""
    env = {
        "PUBLIC_BASE_URL": "https://calendar.example.com",
        "SERVICE_TOKEN": "svc",
        "GOOGLE_CLIENT_ID": "id",
        "GOOGLE_CLIENT_SECRET": "secret",
        "TOKEN_KEYS": f"k1:{KEY}",
        "LINK_SECRET": "x" * 40,
    }
    config = AuthConfig.from_env(env)
    assert config.redirect_uri == "https://calendar.example.com/oauth/callback"
    assert config.common.http_port == 8081
    assert config.risc_refetch_interval == 60.0 and config.refresh.lock_wait == 2.0
    assert AuthConfig.from_env({**env, "REFRESH_LOCK_WAIT_SECONDS": "0.5"}).refresh.lock_wait == 0.5
    assert AuthConfig.from_env({**env, "RISC_KEYS_REFETCH_SECONDS": "0"}).risc_refetch_interval == 0.0
    with pytest.raises(ConfigError, match="LINK_SECRET"):
        AuthConfig.from_env({**env, "LINK_SECRET": "short"})
