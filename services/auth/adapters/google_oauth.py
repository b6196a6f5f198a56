"""Outbound adapter for Google's OAuth endpoints (docs/google.md §3, §5): code exchange, refresh, revoke
and userinfo over plain aiohttp. Answers and typed errors are the pure types of ``oauth_types``."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from services.auth.domain.oauth_types import (
    OAuthError,
    OAuthTransportError,
    TokenResponse,
    parse_token_response,
)
from shared.config import GoogleConfig

DEFAULT_TIMEOUT = 10.0  # the grant's row lock is held across a refresh: keep this short


class GoogleOAuth:
    """Google's token, revoke and userinfo endpoints for our client (client_secret_post)."""

    def __init__(
        self, http: aiohttp.ClientSession, config: GoogleConfig, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._http = http
        self._config = config
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def exchange_code(self, code: str, code_verifier: str | None, redirect_uri: str) -> TokenResponse:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return parse_token_response(await self._post(self._config.token_url, form, client_auth=True))

    async def refresh(self, refresh_token: str) -> TokenResponse:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return parse_token_response(await self._post(self._config.token_url, form, client_auth=True))

    async def revoke(self, token: str) -> None:
        """Revoke a token, judged by the status alone (docs/google.md §5: the body is undocumented): 2xx is
        done, 400 is done too (the token is already dead); anything else raises for a later retry."""
        status, data = await self._request("POST", self._config.revoke_url, data={"token": token})
        if 200 <= status < 300 or status == 400:
            return
        error = data.get("error") if isinstance(data, dict) else None
        raise OAuthTransportError(f"revoke answered {status}", status=status, error=_text(error))

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}"}
        status, data = await self._request("GET", self._config.userinfo_url, headers=headers)
        return _checked(status, data)

    async def _post(self, url: str, form: dict[str, str], *, client_auth: bool) -> dict[str, Any]:
        if client_auth:
            form = {**form, "client_id": self._config.client_id, "client_secret": self._config.client_secret}
        status, data = await self._request("POST", url, data=form)
        return _checked(status, data)

    async def _request(self, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            async with self._http.request(method, url, timeout=self._timeout, **kwargs) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OAuthTransportError(f"{type(exc).__name__} calling {url}") from None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = None
        return status, data


def _checked(status: int, data: Any) -> dict[str, Any]:
    """The body of a 2xx answer, or the right typed error."""
    error = data.get("error") if isinstance(data, dict) else None
    if status >= 500 or status in (408,):
        raise OAuthTransportError(f"google answered {status}", status=status, error=_text(error))
    if data is None or not isinstance(data, dict):
        raise OAuthTransportError(f"google answered {status} without JSON", status=status)
    if status >= 400:
        if isinstance(error, dict):  # API-style error body (userinfo)
            error = error.get("status") or error.get("message")
        return _raise_oauth(status, data, _text(error) or f"http_{status}")
    return data


def _raise_oauth(status: int, data: dict[str, Any], error: str) -> dict[str, Any]:
    raise OAuthError(
        error,
        _text(data.get("error_subtype")),
        status,
        _text(data.get("error_description")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
