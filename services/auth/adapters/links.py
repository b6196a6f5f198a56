"""Signed settings links and the settings-page session derived from them.

A link token is ``<payload>.<signature>``: the payload (base64url JSON) names the purpose, the user
(id, and the platform's display name when it gave one), the locale and the expiry; the signature is HMAC-SHA256 over purpose and payload with LINK_SECRET.
Only auth mints links (``POST /api/v1/users/{user_id}/link``), so links never travel in messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

LOCALES = ("de", "en")
SETTINGS: Literal["settings"] = "settings"
SESSION: Literal["session"] = "session"
Purpose = Literal["settings", "session"]


class LinkInvalid(Exception):
    """Forged, malformed or for another purpose."""


class LinkExpired(Exception):
    """Genuine but past its expiry."""


@dataclass(frozen=True)
class LinkClaims:
    purpose: str
    user_id: str
    locale: str
    expires_at: datetime
    nonce: str  # random per token; the CSRF value of a session
    display_name: str | None = None  # the platform's name for the user, when the link API was given one

    @property
    def account(self) -> str:
        """The platform account as the pages name it: 'Name (user id)', or the user id alone."""
        return f"{self.display_name} ({self.user_id})" if self.display_name else self.user_id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}.{payload}".encode(), hashlib.sha256).digest())


def mint(
    secret: bytes,
    purpose: Purpose,
    *,
    user_id: str,
    locale: str,
    expires_at: datetime,
    display_name: str | None = None,
) -> str:
    """A signed token for ``purpose``; ``locale`` must be one of LOCALES."""
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {LOCALES}")
    body: dict[str, str | int] = {
        "p": purpose,
        "u": user_id,
        "l": locale,
        "e": int(expires_at.timestamp()),
        "n": secrets.token_urlsafe(12),
    }
    if display_name:
        body["d"] = display_name
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, purpose, payload)}"


def verify(secret: bytes, purpose: Purpose, token: str, *, now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired token for ``purpose``; raises LinkInvalid or LinkExpired."""
    payload, _, signature = token.strip().partition(".")
    if not payload or not signature or not hmac.compare_digest(signature, _sign(secret, purpose, payload)):
        raise LinkInvalid("bad signature")
    try:
        body = json.loads(_unb64(payload))
        claims = LinkClaims(
            purpose=str(body["p"]),
            user_id=str(body["u"]),
            locale=str(body["l"]),
            expires_at=datetime.fromtimestamp(int(body["e"]), UTC),
            nonce=str(body["n"]),
            display_name=str(body["d"]) if body.get("d") else None,
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LinkInvalid("malformed payload") from None
    if claims.purpose != purpose or claims.locale not in LOCALES or not claims.user_id:
        raise LinkInvalid("wrong purpose")
    if claims.expires_at <= now:
        raise LinkExpired(claims.expires_at.isoformat())
    return claims
