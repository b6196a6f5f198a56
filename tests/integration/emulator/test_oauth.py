"""The emulator's OAuth endpoints behave like Google's (docs/google.md §2-5)."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import jwt

from devtools.google_emulator import GoogleEmulator

from .conftest import (
    CALENDARLIST,
    EVENTS,
    REDIRECT_URI,
    Connect,
    Grant,
    authorize,
    exchange,
    pkce_pair,
    refresh,
    token_post,
)

EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"


async def test_code_pkce_state_round_trip(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """Consent redirects back with our state and a code that PKCE exchanges for Google-shaped tokens."""
    verifier, challenge = pkce_pair()
    callback = await authorize(http, emu, state="xyz", code_challenge=challenge, code_challenge_method="S256")
    assert callback["state"] == "xyz" and callback["code"].startswith("4/")
    status, body = await exchange(http, emu, callback["code"], verifier=verifier)
    assert status == 200
    assert body["access_token"].startswith("ya29.") and body["refresh_token"].startswith("1//")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert set(body["scope"].split()) == {"openid", EMAIL_SCOPE, EVENTS, CALENDARLIST}
    assert emu.token_calls_by_grant["authorization_code"] == 1


async def test_wrong_verifier_is_invalid_grant(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """A code exchanged with the wrong PKCE verifier is refused with invalid_grant."""
    _, challenge = pkce_pair()
    callback = await authorize(http, emu, code_challenge=challenge, code_challenge_method="S256")
    status, body = await exchange(http, emu, callback["code"], verifier=pkce_pair()[0])
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_code_is_single_use(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """Exchanging the same code twice fails the second time with invalid_grant."""
    callback = await authorize(http, emu)
    assert (await exchange(http, emu, callback["code"]))[0] == 200
    status, body = await exchange(http, emu, callback["code"])
    assert (status, body) == (400, {"error": "invalid_grant", "error_description": "Bad Request"})


async def test_redirect_uri_must_match_at_exchange(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """A different redirect_uri at exchange is refused with redirect_uri_mismatch."""
    callback = await authorize(http, emu)
    status, body = await exchange(http, emu, callback["code"], redirect_uri=REDIRECT_URI + "/")
    assert (status, body["error"]) == (400, "redirect_uri_mismatch")


async def test_unregistered_redirect_uri_shows_error_page(
    http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """An unregistered https redirect URI gets Google's error page, not a redirect."""
    params = {
        "client_id": emu.client_id,
        "redirect_uri": "https://evil.example/cb",
        "response_type": "code",
        "scope": "openid",
    }
    async with http.get(emu.auth_url, params=params, allow_redirects=False) as resp:
        assert resp.status == 400 and "redirect_uri_mismatch" in await resp.text()
    emu.register_redirect_uri("https://evil.example/cb")
    async with http.get(emu.auth_url, params=params, allow_redirects=False) as resp:
        assert resp.status == 302


async def test_denied_consent_redirects_access_denied(
    http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """A user who declines comes back with error=access_denied and our state."""
    emu.set_consent(deny=True)
    callback = await authorize(http, emu, state="keep")
    assert callback == {"error": "access_denied", "state": "keep"}


async def test_refresh_returns_new_access_token_without_rotation(grant: Grant) -> None:
    """Refreshing gives a new access token and never a new refresh token."""
    status, body = await grant.refresh()
    assert status == 200 and "refresh_token" not in body
    assert body["access_token"] != grant.tokens["access_token"] and body["scope"] == grant.tokens["scope"]


async def test_refresh_token_only_with_consent_or_first_time(connect: Connect) -> None:
    """A second consent without prompt=consent gives no refresh token; with it, a new one."""
    first = await connect()
    again = await connect(prompt="")
    forced = await connect()
    assert "refresh_token" not in again
    assert forced["refresh_token"] != first["refresh_token"]


async def test_revoke_then_refresh_is_invalid_grant(
    grant: Grant, http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """After /revoke on the access token, its refresh token gets invalid_grant and Calendar gets 401."""
    async with http.post(emu.revoke_url, data={"token": grant.tokens["access_token"]}) as resp:
        assert resp.status == 200
    status, body = await grant.refresh()
    assert (status, body) == (
        400,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    headers = {"Authorization": "Bearer " + grant.tokens["access_token"]}
    async with http.get(emu.calendar_base_url + "users/me/calendarList", headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["errors"][0]["reason"] == "authError"
    async with http.post(emu.revoke_url, data={"token": grant.tokens["refresh_token"]}) as resp:
        assert resp.status == 400 and (await resp.json())["error"] == "invalid_token"
    assert grant.tokens["refresh_token"] in emu.revoked_tokens


async def test_revoke_get_is_404(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """GET on /revoke is not how Google revokes: 404."""
    async with http.get(emu.revoke_url, params={"token": "x"}) as resp:
        assert resp.status == 404


async def test_revoke_user_ends_every_grant(
    connect: Connect, http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """When the user removes our access, every refresh token of theirs gets invalid_grant."""
    first, second = await connect(), await connect()
    emu.revoke_user("alice@example.com")
    for tokens in (first, second):
        status, body = await refresh(http, emu, tokens["refresh_token"])
        assert (status, body["error_description"]) == (400, "Token has been expired or revoked.")


async def test_deleted_account_refresh(grant: Grant, emu: GoogleEmulator) -> None:
    """A deleted account's refresh token gets invalid_grant "Account has been deleted"."""
    emu.delete_account("alice@example.com")
    status, body = await grant.refresh()
    assert (status, body) == (
        400,
        {"error": "invalid_grant", "error_description": "Account has been deleted"},
    )


async def test_admin_policy_and_disabled_client(grant: Grant, emu: GoogleEmulator) -> None:
    """Admin restrictions give admin_policy_enforced; a deleted client gives 401 invalid_client."""
    emu.set_admin_policy("alice@example.com")
    status, body = await grant.refresh()
    assert (status, body["error"]) == (400, "admin_policy_enforced")
    emu.disable_client()
    status, body = await grant.refresh()
    assert (status, body["error"]) == (401, "invalid_client")


async def test_basic_client_auth_and_wrong_secret(
    grant: Grant, http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """Client credentials work as HTTP Basic; a wrong secret is 401 invalid_client."""
    form = {"grant_type": "refresh_token", "refresh_token": grant.tokens["refresh_token"]}
    basic = base64.b64encode(f"{emu.client_id}:{emu.client_secret}".encode()).decode()
    async with http.post(emu.token_url, data=form, headers={"Authorization": "Basic " + basic}) as resp:
        assert resp.status == 200
    status, body = await token_post(http, emu, client_secret="nope", **form)
    assert (status, body["error"]) == (401, "invalid_client")


async def test_time_limited_grant(connect: Connect, http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """Time-limited access reports refresh_token_expires_in and dies with invalid_grant at the end."""
    emu.set_time_limited("alice@example.com", 3600)
    tokens = await connect()
    assert 3500 < tokens["refresh_token_expires_in"] <= 3600
    emu.set_time_limited("alice@example.com", 0)
    status, body = await refresh(http, emu, tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_omitted_scope(connect: Connect, emu: GoogleEmulator) -> None:
    """With omit_scope_in_token_response the token response has no scope field."""
    emu.omit_scope_in_token_response(True)
    assert "scope" not in await connect()


async def test_granular_consent_reports_only_ticked_scopes(connect: Connect, emu: GoogleEmulator) -> None:
    """Unticked calendar scopes are missing from the token response's scope."""
    emu.set_consent(granted_scopes=[CALENDARLIST])
    scopes = (await connect())["scope"].split()
    assert CALENDARLIST in scopes and EVENTS not in scopes and "openid" in scopes


async def test_id_token_verifies_with_jwks(
    connect: Connect, http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """The id_token is an RS256 JWT that verifies with the served JWKS and names the account."""
    tokens = await connect(nonce="n1")
    async with http.get(emu.jwks_url) as resp:
        jwks = jwt.PyJWKSet.from_dict(await resp.json())
    kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(
        tokens["id_token"],
        key.key,
        algorithms=["RS256"],
        audience=emu.client_id,
        issuer="https://accounts.google.com",
    )
    user = emu.user("alice@example.com")
    assert (claims["sub"], claims["email"], claims["nonce"]) == (user.sub, user.email, "n1")


async def test_userinfo(connect: Connect, http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """userinfo answers the account's sub and email for a live token, 401 otherwise."""
    tokens = await connect()
    headers = {"Authorization": "Bearer " + tokens["access_token"]}
    async with http.get(emu.userinfo_url, headers=headers) as resp:
        body = await resp.json()
    assert body == {
        "sub": emu.user("alice@example.com").sub,
        "email": "alice@example.com",
        "email_verified": True,
    }
    emu.expire_access_tokens()
    async with http.get(emu.userinfo_url, headers=headers) as resp:
        assert resp.status == 401


async def test_login_hint_selects_account(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """login_hint naming a known account makes that account consent."""
    bob = emu.add_user("bob@example.com")
    callback = await authorize(http, emu, login_hint=bob.sub)
    status, body = await exchange(http, emu, callback["code"])
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert status == 200 and claims["email"] == "bob@example.com"


async def test_concurrent_token_calls_are_measured(
    grant: Grant, http: aiohttp.ClientSession, emu: GoogleEmulator
) -> None:
    """token_inflight_peak reports how many token requests overlapped."""
    emu.reset_stats()
    emu.set_latency("/token", 0.2)
    form = {"grant_type": "refresh_token", "refresh_token": grant.tokens["refresh_token"]}
    results = await asyncio.gather(*(token_post(http, emu, **form) for _ in range(3)))
    assert [status for status, _ in results] == [200, 200, 200]
    assert emu.token_calls == 3 and emu.token_inflight_peak == 3
    assert emu.requests[0].form["grant_type"] == "refresh_token"
