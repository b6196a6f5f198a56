"""Which Google account consented: the id_token's claims, or Google's userinfo endpoint as fallback.

The id_token comes straight from Google's token endpoint over TLS, so its signature need not be
checked (OpenID Connect Core §3.1.3.7); it is still decoded defensively and its audience checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
import structlog

from services.auth.adapters.google_oauth import GoogleOAuth
from services.auth.domain.oauth_types import OAuthError, OAuthTransportError, TokenResponse

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Identity:
    sub: str  # Google's stable account id
    email: str | None


def from_id_token(id_token: str | None, client_id: str) -> Identity | None:
    if not id_token:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        log.warning("id_token_unreadable")
        return None
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    sub = claims.get("sub")
    if client_id not in audiences or not isinstance(sub, str) or not sub:
        log.warning("id_token_rejected", audience_ok=client_id in audiences)
        return None
    email = claims.get("email")
    return Identity(sub=sub, email=email if isinstance(email, str) and email else None)


async def learn(tokens: TokenResponse, *, google: GoogleOAuth, client_id: str) -> Identity | None:
    """The account behind ``tokens``; None when Google tells us neither way."""
    found = from_id_token(tokens.id_token, client_id)
    if found is not None:
        return found
    try:
        info = await google.userinfo(tokens.access_token)
    except (OAuthError, OAuthTransportError) as exc:
        log.warning("userinfo_failed", error=type(exc).__name__)
        return None
    sub, email = info.get("sub"), info.get("email")
    if not isinstance(sub, str) or not sub:
        return None
    return Identity(sub=sub, email=email if isinstance(email, str) and email else None)
