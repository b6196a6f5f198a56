"""auth's Google OAuth adapter against the emulator: refresh, typed errors, lenient parsing, revoke."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from services.auth.adapters.google_oauth import GoogleOAuth
from services.auth.domain.oauth_types import OAuthError, OAuthTransportError, parse_token_response

SCOPES = ["openid", "https://www.googleapis.com/auth/calendar.events"]


def _grant(emulator: Any) -> str:
    emulator.add_user("ada@example.com")
    token: str = emulator.add_grant("ada@example.com", SCOPES).refresh_token
    return token


async def test_refresh_revoke_and_errors(emulator: Any, google_config: Any) -> None:
    """A refresh returns a new access token; a revoked grant raises invalid_grant; a second revoke is fine."""
    token = _grant(emulator)
    async with aiohttp.ClientSession() as http:
        google = GoogleOAuth(http, google_config)
        fresh = await google.refresh(token)
        assert fresh.access_token.startswith("ya29.") and fresh.expires_in > 3000
        assert fresh.scope == tuple(SCOPES) and fresh.id_token
        await google.revoke(token)
        await google.revoke(token)  # already dead: done
        with pytest.raises(OAuthError) as err:
            await google.refresh(token)
    assert (err.value.error, err.value.status) == ("invalid_grant", 400)


async def test_outages_and_client_errors_are_typed(emulator: Any, google_config: Any) -> None:
    """5xx and dropped connections are transport errors; a broken client is an OAuth error."""
    token = _grant(emulator)
    async with aiohttp.ClientSession() as http:
        google = GoogleOAuth(http, google_config, timeout=5)
        emulator.fail_next("/token", 503)
        with pytest.raises(OAuthTransportError) as outage:
            await google.refresh(token)
        emulator.drop_connections("/token")
        with pytest.raises(OAuthTransportError):
            await google.refresh(token)
        emulator.disable_client()
        with pytest.raises(OAuthError) as broken:
            await google.refresh(token)
    assert outage.value.status == 503 and outage.value.error == "temporarily_unavailable"
    assert broken.value.error == "invalid_client"


def test_lenient_parsing() -> None:
    """Unknown fields are ignored, scope may be missing, time-limited grants keep their end."""
    r = parse_token_response(
        {"access_token": "ya29.secret", "expires_in": 3599, "refresh_token_expires_in": 600, "new": 1}
    )
    assert r.scope is None and r.refresh_token_expires_in == 600 and r.refresh_token is None
    assert "ya29.secret" not in repr(r)


@pytest.mark.parametrize(
    ("status", "body", "done"),
    [
        (200, "ok", True),
        (204, "", True),
        (200, "<html>revoked</html>", True),
        (400, "<html>Bad Request</html>", True),
        (400, {"error": "invalid_token"}, True),
        (401, "<html>Unauthorized</html>", False),
        (429, "slow down", False),
        (503, {"error": "server_error"}, False),
    ],
)
async def test_revoke_is_judged_by_status_alone(
    emulator: Any, google_config: Any, status: int, body: Any, done: bool
) -> None:
    """Whatever the revoke endpoint's body says, 2xx and 400 mean the token is dead and anything else
    is retried later (docs/google.md §5: the body is undocumented)."""
    token = _grant(emulator)
    emulator.fail_next("/revoke", status, body=body)
    async with aiohttp.ClientSession() as http:
        google = GoogleOAuth(http, google_config)
        if done:
            await google.revoke(token)
        else:
            with pytest.raises(OAuthTransportError) as err:
                await google.revoke(token)
            assert err.value.status == status
