"""Outbound to auth: a fresh settings/reconnect link for every email (links never travel in messages).

``POST {AUTH_API_URL}/api/v1/users/{user_id}/link`` with the service token answers 201 with
``{"url", "expires_at"}``. Anything else means the email waits and is retried: an email is never
sent without its button.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import aiohttp


class LinkUnavailable(Exception):
    """auth could not mint a link right now (unreachable, an error answer, or a malformed body)."""


class AuthLinks:
    """Asks auth for links over the app's shared HTTP session."""

    def __init__(
        self, http: aiohttp.ClientSession, *, base_url: str, service_token: str, timeout: float = 10.0
    ):
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._service_token = service_token
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def mint(self, user_id: str, lang: str) -> str:
        """A fresh link for ``user_id`` in ``lang``; raises ``LinkUnavailable``."""
        url = f"{self._base_url}/api/v1/users/{quote(user_id, safe='')}/link"
        headers = {"Authorization": f"Bearer {self._service_token}"}
        try:
            async with self._http.post(
                url, json={"locale": lang}, headers=headers, timeout=self._timeout
            ) as resp:
                if resp.status != 201:
                    raise LinkUnavailable(f"auth answered HTTP {resp.status}")
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise LinkUnavailable(f"auth unreachable: {type(exc).__name__}") from None
        link = data.get("url") if isinstance(data, dict) else None
        if not isinstance(link, str) or urlsplit(link).scheme not in ("http", "https"):
            raise LinkUnavailable("auth answered without a usable url")
        return link
