"""What Google's OAuth token endpoint answers, as plain types: TokenResponse with its lenient parser,
and the typed errors that adapters/google_oauth raises and refresh_decision.classify reads. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


class OAuthError(Exception):
    """Google answered with an OAuth error body (``error``, optional ``error_subtype``)."""

    def __init__(self, error: str, error_subtype: str | None, status: int, description: str | None) -> None:
        super().__init__(f"oauth error {status} {error}" + (f"/{error_subtype}" if error_subtype else ""))
        self.error = error
        self.error_subtype = error_subtype
        self.status = status
        self.description = description


class OAuthTransportError(Exception):
    """No usable answer: network failure, timeout, 5xx or a body that is not JSON."""

    def __init__(self, detail: str, *, status: int | None = None, error: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.error = error


@dataclass(frozen=True)
class TokenResponse:
    """A successful token endpoint answer; unknown fields are ignored."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"
    refresh_token: str | None = None
    refresh_token_expires_in: int | None = None
    scope: tuple[str, ...] | None = None  # None: not sent (RFC 6749: the requested scopes)
    id_token: str | None = None

    def expires_at(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.expires_in)

    def refresh_token_expires_at(self, now: datetime) -> datetime | None:
        if self.refresh_token_expires_in is None:
            return None
        return now + timedelta(seconds=self.refresh_token_expires_in)

    def __repr__(self) -> str:  # never print tokens
        return f"TokenResponse(expires_in={self.expires_in}, scope={self.scope})"


def parse_token_response(data: Any) -> TokenResponse:
    """Build a TokenResponse from a decoded JSON body; raises OAuthTransportError if unusable."""
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise OAuthTransportError("token response without access_token")
    try:
        expires_in = int(data.get("expires_in", 3599))
        rt_expires = data.get("refresh_token_expires_in")
        rt_expires_in = int(rt_expires) if rt_expires is not None else None
    except (TypeError, ValueError):
        raise OAuthTransportError("token response with a malformed expiry") from None
    scope = data.get("scope")
    return TokenResponse(
        access_token=data["access_token"],
        expires_in=expires_in,
        token_type=str(data.get("token_type", "Bearer")),
        refresh_token=data.get("refresh_token") or None,
        refresh_token_expires_in=rt_expires_in,
        scope=tuple(scope.split()) if isinstance(scope, str) else None,
        id_token=data.get("id_token") or None,
    )
