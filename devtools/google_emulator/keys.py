"""Signing keys of the emulator (state): the JWKS, id_tokens and Security Event Tokens
(RISC, docs/google.md §11) signed RS256 with a rotating key, and service-account keys; pure, no I/O."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .records import IDENTITY_SCOPES, EmuUser

EVENT_PREFIX = "https://schemas.openid.net/secevent/"
EVENT_TYPES = {
    "token-revoked": EVENT_PREFIX + "oauth/event-type/token-revoked",
    "tokens-revoked": EVENT_PREFIX + "oauth/event-type/tokens-revoked",
    "account-disabled": EVENT_PREFIX + "risc/event-type/account-disabled",
    "account-enabled": EVENT_PREFIX + "risc/event-type/account-enabled",
    "sessions-revoked": EVENT_PREFIX + "risc/event-type/sessions-revoked",
    "account-credential-change-required": EVENT_PREFIX + "risc/event-type/account-credential-change-required",
    "verification": EVENT_PREFIX + "risc/event-type/verification",
}


class _Key:
    def __init__(self) -> None:
        self.kid = secrets.token_hex(20)
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "alg": "RS256", "use": "sig"}


@functools.cache
def _first_key() -> _Key:
    """One starting key per process: RSA generation is slow and tests start many emulators."""
    return _Key()


class SigningKeys:
    """The current and previous signing key, and the tokens signed with them."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.risc_issuer = "https://accounts.google.com/"
        self.id_token_issuer = "https://accounts.google.com"
        self._keys = [_first_key()]

    @property
    def signing_kid(self) -> str:
        return self._keys[-1].kid

    def rotate_risc_key(self) -> str:
        """Start signing with a new key (new kid); the JWKS serves it and the previous one."""
        self._keys = [self._keys[-1], _Key()]
        return self.signing_kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in reversed(self._keys)]}

    def sign_set(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = None) -> str:
        """Sign `claims` RS256 with the current key (or `key`/`kid`, to forge or tamper)."""
        signer = key if key is not None else self._keys[-1].private
        headers = {"kid": kid if kid is not None else self.signing_kid, "typ": "secevent+jwt"}
        return jwt.encode(claims, signer, algorithm="RS256", headers=headers)

    def make_id_token(self, user: EmuUser, scopes: list[str], *, nonce: str | None) -> str:
        """An id_token for `user` as the token endpoint returns it."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.id_token_issuer,
            "azp": self.client_id,
            "aud": self.client_id,
            "sub": user.sub,
            "iat": now,
            "exp": now + 3600,
        }
        if IDENTITY_SCOPES["email"] in scopes:
            claims.update(email=user.email, email_verified=True)
        if IDENTITY_SCOPES["profile"] in scopes:
            claims["name"] = user.name
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._keys[-1].private, "RS256", {"kid": self.signing_kid})

    def subject_iss_sub(self, sub: str) -> dict[str, str]:
        """An `iss-sub` subject naming a Google account by its stable `sub`."""
        return {"subject_type": "iss-sub", "iss": self.risc_issuer, "sub": sub}

    def subject_token(self, refresh_token: str, alg: str = "prefix") -> dict[str, str]:
        """A token subject: `prefix` is the first 16 characters; `hash_base64_sha512_sha512` is
        base64 (standard, padded) of SHA-512 over the raw SHA-512 digest of the token."""
        if alg == "prefix":
            ident = refresh_token[:16]
        elif alg == "hash_base64_sha512_sha512":
            inner = hashlib.sha512(refresh_token.encode()).digest()
            ident = base64.b64encode(hashlib.sha512(inner).digest()).decode()
        else:
            raise ValueError(f"unknown token_identifier_alg {alg}")
        return {
            "subject_type": "oauth_token",
            "token_type": "refresh_token",
            "token_identifier_alg": alg,
            "token": ident,
        }

    def build_set(
        self,
        event_type: str,
        subject: dict[str, Any] | None,
        *,
        reason: str | None = None,
        jti: str | None = None,
        aud: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """The claims of a Security Event Token as Google sends it (no `exp`); a verification event
        carries the `state` it was asked for and no subject."""
        event: dict[str, Any] = {} if subject is None else {"subject": subject}
        if reason is not None:
            event["reason"] = reason
        if state is not None:
            event["state"] = state
        return {
            "iss": self.risc_issuer,
            "aud": aud or self.client_id,
            "iat": int(time.time()),
            "jti": jti or uuid.uuid4().hex.upper(),
            "events": {EVENT_TYPES.get(event_type, event_type): event},
        }


@dataclass(frozen=True)
class ServiceAccount:
    """A service account of the emulated Cloud project: its email and its key's id and public half."""

    email: str
    key_id: str
    public_key: Any


def new_service_account(name: str, project_id: str, token_uri: str) -> tuple[ServiceAccount, dict[str, str]]:
    """A service account with a new RSA key, and the JSON key file Google's console hands out for it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = f"{name}@{project_id}.iam.gserviceaccount.com"
    key_id = secrets.token_hex(20)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_file = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**20)),
        "token_uri": token_uri,
    }
    return ServiceAccount(email, key_id, private.public_key()), key_file
