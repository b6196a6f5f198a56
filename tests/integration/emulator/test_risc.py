"""RISC: the emulator publishes its configuration and keys and sends signed SETs (docs/google.md §11)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import aiohttp
import jwt
import pytest

from devtools.google_emulator import GoogleEmulator

from .conftest import Receiver

TOKENS_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"


async def _verify(http: aiohttp.ClientSession, emu: GoogleEmulator, token: str) -> dict[str, Any]:
    """Verify a SET the way our receiver must: discovery doc, kid lookup, RS256, aud, iss."""
    async with http.get(emu.risc_config_url) as resp:
        config = await resp.json()
    async with http.get(config["jwks_uri"]) as resp:
        jwks = jwt.PyJWKSet.from_dict(await resp.json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=emu.client_id,
        issuer=config["issuer"],
        options={"require": ["iat", "jti"]},
    )
    return claims


async def test_set_delivered_and_verifies(
    http: aiohttp.ClientSession, emu: GoogleEmulator, receiver: Receiver
) -> None:
    """A sent security event arrives as application/secevent+jwt and verifies with the served JWKS."""
    receiver.statuses[:] = [202]
    sub = emu.user("alice@example.com").sub
    status = await emu.send_security_event(
        receiver.url, "tokens-revoked", emu.subject_iss_sub(sub), jti="j-1"
    )
    delivery = await receiver.next()
    assert status == 202 and delivery.headers["Content-Type"] == "application/secevent+jwt"
    claims = await _verify(http, emu, delivery.body.decode())
    assert claims["iss"] == "https://accounts.google.com/" and claims["jti"] == "j-1" and "exp" not in claims
    assert claims["events"][TOKENS_REVOKED]["subject"] == {
        "subject_type": "iss-sub",
        "iss": "https://accounts.google.com/",
        "sub": sub,
    }


async def test_tampered_set_fails_verification(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """A SET signed by another key under our kid does not verify."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = emu.sign_set(
        emu.build_set("account-disabled", emu.subject_iss_sub("1"), reason="hijacking"), key=other
    )
    with pytest.raises(jwt.InvalidSignatureError):
        await _verify(http, emu, forged)


async def test_rotated_key_has_new_kid(http: aiohttp.ClientSession, emu: GoogleEmulator) -> None:
    """After rotation, SETs carry a new kid that the refetched JWKS contains."""
    old = emu.signing_kid
    new = emu.rotate_risc_key()
    token = emu.sign_set(emu.build_set("verification", {"state": "x"}))
    assert new != old and jwt.get_unverified_header(token)["kid"] == new
    assert (await _verify(http, emu, token))["aud"] == emu.client_id


def test_token_subjects() -> None:
    """Token subjects identify a refresh token by its 16-char prefix or double SHA-512."""
    emu = GoogleEmulator()
    token = "1//0gabcdefghijklmnopqrstuvwxyz"
    assert emu.subject_token(token)["token"] == token[:16]
    hashed = emu.subject_token(token, "hash_base64_sha512_sha512")
    expected = base64.b64encode(hashlib.sha512(hashlib.sha512(token.encode()).digest()).digest()).decode()
    assert hashed == {
        "subject_type": "oauth_token",
        "token_type": "refresh_token",
        "token_identifier_alg": "hash_base64_sha512_sha512",
        "token": expected,
    }


async def test_admin_risc_send(http: aiohttp.ClientSession, emu: GoogleEmulator, receiver: Receiver) -> None:
    """POST /_emulator/risc/send delivers the same SET for an out-of-process emulator."""
    body = {
        "receiver_url": receiver.url,
        "event_type": "account-disabled",
        "email": "alice@example.com",
        "reason": "hijacking",
    }
    async with http.post(emu.base_url + "/_emulator/risc/send", json=body) as resp:
        assert (await resp.json())["status"] == 204
    claims = await _verify(http, emu, (await receiver.next()).body.decode())
    event = claims["events"]["https://schemas.openid.net/secevent/risc/event-type/account-disabled"]
    assert event["reason"] == "hijacking" and event["subject"]["sub"] == emu.user("alice@example.com").sub
